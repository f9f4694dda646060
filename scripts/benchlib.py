"""What the benchmark scripts share: processes on 127.0.0.1, /proc readings, tables.

Every process a script starts is registered in a :class:`Processes` and stopped by
its pid when the script ends, whatever happens. Nothing listens beyond loopback.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

HOST = "127.0.0.1"
REPO = Path(__file__).resolve().parent.parent
SCRIPTS = REPO / "scripts"

# The fixed answer every fake upstream gives a non-streamed chat completion.
CHAT_COMPLETION = (
    b'{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,'
    b'"model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,"message":{"role":"assistant",'
    b'"content":"Hello! How can I help you today?","refusal":null},"logprobs":null,'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,'
    b'"total_tokens":21},"system_fingerprint":"fp_bench"}'
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args[0]} exited with {process.returncode} before listening on {port}")
        try:
            socket.create_connection((HOST, port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listened on {HOST}:{port} after {timeout:g} s")


class Processes:
    """Started processes, stopped (TERM, then KILL) in reverse order on exit."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen] = []

    def start(self, args: list[str], *, port: int | None = None, cpus: set[int] | None = None, **kwargs):
        def pin():
            if cpus:
                os.sched_setaffinity(0, cpus)

        kwargs.setdefault("cwd", REPO)
        process = subprocess.Popen(args, preexec_fn=pin, **kwargs)
        self._started.append(process)
        if port is not None:
            wait_for_port(port, process)
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process in self._started:
            self._started.remove(process)

    def __enter__(self) -> Processes:
        # SIGTERM would end the script without unwinding, leaving its children behind.
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
        return self

    def __exit__(self, *exc) -> None:
        for process in reversed(list(self._started)):
            self.stop(process)


def gateway_args(port: int, workers: int = 1, log_level: str = "warning") -> list[str]:
    return [sys.executable, "-m", "gateway", "--host", HOST, "--port", str(port), "--log-level", log_level,
            "--workers", str(workers)]


def gateway_log(log_level: str) -> dict:
    """Popen options for a gateway at ``log_level``: at info its access line, one a
    request, is written (as in production) and goes to /dev/null, not the terminal."""
    return {"stderr": subprocess.DEVNULL} if log_level in ("info", "debug") else {}


def gateway_headers(upstream_port: int) -> dict[str, str]:
    """What a client sends the gateway to reach an OpenAI-compatible upstream on loopback."""
    return {
        "Content-Type": "application/json",
        "Authorization": "Bearer sk-bench",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://{HOST}:{upstream_port}/v1",
    }


def cpu_split() -> tuple[set[int] | None, set[int] | None]:
    """(CPUs for the load generator and upstream, CPUs for the process under test).

    With two or more CPUs the process under test gets one of its own, so that it is
    measured on one core and the load does not steal it; with one CPU, no pinning.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return set(cpus[:-1]), {cpus[-1]}


def machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def proc_status_kb(pid: int, field: str) -> int:
    """A ``kB`` field of /proc/PID/status (VmRSS, VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def cpu_seconds_tree(pid: int) -> float:
    """CPU time of a process and its live children (the workers of ``--workers N``)."""
    return cpu_seconds(pid) + sum(cpu_seconds(child) for child in children(pid))


def peak_rss_mb(pid: int) -> float:
    """The largest peak RSS (VmHWM) of a process and its children, in MB."""
    return max(proc_status_kb(p, "VmHWM") for p in [pid, *children(pid)]) / 1024


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(headers: list[str], rows: list[list]) -> str:
    """A reStructuredText simple table (prints well and pastes into docs/benchmarks.rst)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=False)), rule]
    lines += ["  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths, strict=False))) for r in cells]
    lines.append(rule)
    return "\n".join(lines)


def _cell(value) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.2f}"
    return str(value)


def need_commands(packages: dict[str, str]) -> None:
    """Make sure each command exists, installing its Debian package when missing.

    ``packages`` maps a command to the package that provides it. Without root (or
    apt-get), say what to install and stop.
    """
    missing = {cmd: pkg for cmd, pkg in packages.items() if shutil.which(cmd) is None}
    if not missing:
        return
    wanted = sorted(set(missing.values()))
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise SystemExit(f"missing {', '.join(missing)}: install the package(s) {' '.join(wanted)} and run again")
    print(f"installing {' '.join(wanted)} with apt-get ...", file=sys.stderr)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for step in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *wanted]):
        result = subprocess.run(step, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        if result.returncode != 0:
            raise SystemExit(
                f"could not install {' '.join(wanted)} ({' '.join(step)} failed):\n{result.stderr[-2000:]}"
                f"\ninstall them by hand and run again"
            )
    still = [cmd for cmd in missing if shutil.which(cmd) is None]
    if still:
        raise SystemExit(f"installed {' '.join(wanted)} but {', '.join(still)} is still not on PATH")
