"""Streaming: N concurrent SSE streams direct from a fake upstream, then through the gateway.

    .venv/bin/python scripts/bench_sse.py [--streams 1000] [--chunks 100] [--gap-ms 10] [--mode passthrough,bedrock]

Starts on 127.0.0.1 the fake upstream (``scripts/fake_upstream.py``, its own
process, which stamps each chunk with its send time) and the gateway (one worker),
then runs the client (``scripts/sse_client.py``, its own process) twice: straight
at the upstream, then through the gateway. Reports the time to first byte, the
per-chunk delay (client receive time minus upstream send time) and the errors of
both runs and what the gateway added, the gateway's CPU time per chunk and its peak
RSS (VmHWM); then the same for ``scripts/bare_relay.py``, the floor of any aiohttp
design (``--no-relay`` skips it). With two or more CPUs the gateway gets one of its own.

Modes: ``passthrough`` (OpenAI SSE relayed as bytes) and ``bedrock`` (Bedrock
ConverseStream event-stream frames translated to OpenAI SSE; skipped, with a note,
in a tree without gateway/providers/bedrock). With both, the table ends with the
ratio of their CPU per chunk.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass

import benchlib
from benchlib import HOST, percentile


@dataclass(frozen=True)
class Mode:
    """How one kind of stream is served upstream and asked for through the gateway."""

    upstream_args: Callable[[int, argparse.Namespace], list[str]]
    gateway_headers: Callable[[int], dict[str, str]]
    # Why the mode cannot run in this tree, or None when it can.
    missing: Callable[[], str | None]


def _fake_upstream(port: int, args) -> list[str]:
    return [sys.executable, str(benchlib.SCRIPTS / "fake_upstream.py"), str(port),
            "--chunks", str(args.chunks), "--gap-ms", str(args.gap_ms)]


def _bedrock_missing() -> str | None:
    if not (benchlib.REPO / "gateway" / "providers" / "bedrock").exists():
        return "gateway/providers/bedrock does not exist in this tree"
    return None


def _bedrock_headers(upstream_port: int) -> dict[str, str]:
    # Keys the fake upstream never checks: the gateway still signs every request.
    return {
        "Content-Type": "application/json",
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": f"http://{HOST}:{upstream_port}",
        "x-portkey-aws-access-key-id": "AKIDBENCHMARK",
        "x-portkey-aws-secret-access-key": "bench-secret",
        "x-portkey-aws-region": "us-east-1",
    }


MODES = {
    "passthrough": Mode(_fake_upstream, benchlib.gateway_headers, lambda: None),
    # The same chunks, sent as Bedrock ConverseStream event-stream frames and
    # translated by the gateway into OpenAI SSE. Its direct run is the upstream's
    # OpenAI form (the client reads SSE): same process, same cadence.
    "bedrock": Mode(_fake_upstream, _bedrock_headers, _bedrock_missing),
}


def run_client(url: str, headers: dict, args, cpus) -> dict:
    command = [sys.executable, str(benchlib.SCRIPTS / "sse_client.py"), url, "--streams", str(args.streams),
               "--chunks", str(args.chunks), "--headers", json.dumps(headers), "--ramp-s", str(args.ramp_s)]
    limit = args.ramp_s + args.chunks * args.gap_ms / 1000 + 300
    result = subprocess.run(command, capture_output=True, text=True, timeout=limit, cwd=benchlib.REPO,
                            preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
    if result.returncode != 0:
        raise SystemExit(f"the client failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout)


def run_mode(name: str, mode: Mode, args, cpu_per_chunk: dict, notes: list[str]) -> list[list] | None:
    missing = mode.missing()
    if missing:
        notes.append(f"mode {name}: skipped: {missing}")
        print(notes[-1], file=sys.stderr)
        return None
    load_cpus, gateway_cpus = (None, None) if args.no_pin else benchlib.cpu_split()
    with benchlib.Processes() as procs:
        upstream_port, gateway_port, relay_port = benchlib.free_port(), benchlib.free_port(), benchlib.free_port()
        procs.start(mode.upstream_args(upstream_port, args), port=upstream_port, cpus=load_cpus)
        # Several workers share the port (SO_REUSEPORT) and may use every CPU.
        gateway = procs.start(benchlib.gateway_args(gateway_port, args.gateway_workers, args.log_level), port=gateway_port,
                              cpus=gateway_cpus if args.gateway_workers == 1 else None, **benchlib.gateway_log(args.log_level))
        path = "/v1/chat/completions"
        print(f"  {name}: {args.streams} streams direct ...", file=sys.stderr, flush=True)
        direct = run_client(f"http://{HOST}:{upstream_port}{path}", {}, args, load_cpus)
        print(f"  {name}: {args.streams} streams through the gateway ...", file=sys.stderr, flush=True)
        cpu_before = benchlib.cpu_seconds_tree(gateway.pid)
        through = run_client(f"http://{HOST}:{gateway_port}{path}", mode.gateway_headers(upstream_port), args, load_cpus)
        cpu_used = benchlib.cpu_seconds_tree(gateway.pid) - cpu_before
        peak_rss_mb = benchlib.peak_rss_mb(gateway.pid)
        procs.stop(gateway)
        floor = None
        if name == "passthrough" and not args.no_relay:
            # The same streams through the bare aiohttp relay: the floor for this design.
            relay = procs.start([sys.executable, str(benchlib.SCRIPTS / "bare_relay.py"), str(relay_port),
                                 f"http://{HOST}:{upstream_port}"], port=relay_port, cpus=gateway_cpus)
            print(f"  {name}: {args.streams} streams through the bare relay ...", file=sys.stderr, flush=True)
            relay_before = benchlib.cpu_seconds(relay.pid)
            floor = run_client(f"http://{HOST}:{relay_port}{path}", {}, args, load_cpus)
            floor["cpu_us"] = (benchlib.cpu_seconds(relay.pid) - relay_before) / max(1, len(floor["delay_ms"])) * 1e6
            floor["rss_mb"] = benchlib.proc_status_kb(relay.pid, "VmHWM") / 1024
    cpu_per_chunk_us = cpu_used / max(1, len(through["delay_ms"])) * 1e6
    cpu_per_chunk[name] = cpu_per_chunk_us
    rows = []
    figures = {}
    for label, result in ((f"direct ({name})", direct), (f"gateway ({name})", through)):
        figures[label] = [percentile(result["ttfb_ms"], 50), percentile(result["ttfb_ms"], 99),
                          percentile(result["delay_ms"], 50), percentile(result["delay_ms"], 99)]
        errors = sum(result["errors"].values())
        detail = ", ".join(f"{k}: {v}" for k, v in result["errors"].items())
        rows.append([label, *figures[label], len(result["delay_ms"]), f"{errors}" + (f" ({detail})" if detail else ""),
                     "-", "-"])
    added = [g - d for g, d in zip(figures[f"gateway ({name})"], figures[f"direct ({name})"], strict=False)]
    rows.append([f"added by gateway ({name})", *added, "", "", round(cpu_per_chunk_us, 1), round(peak_rss_mb, 1)])
    if floor is not None:
        relay_figures = [percentile(floor["ttfb_ms"], 50), percentile(floor["ttfb_ms"], 99),
                         percentile(floor["delay_ms"], 50), percentile(floor["delay_ms"], 99)]
        rows.append(["bare relay", *relay_figures, len(floor["delay_ms"]), sum(floor["errors"].values()), "-", "-"])
        rows.append(["added by bare relay", *(r - d for r, d in zip(relay_figures, figures[f"direct ({name})"], strict=False)), "", "",
                     round(floor["cpu_us"], 1), round(floor["rss_mb"], 1)])
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    parser.add_argument("--ramp-s", type=float, default=1.0, help="seconds over which the client starts its streams")
    parser.add_argument("--mode", default="passthrough,bedrock", help=f"comma-separated: {', '.join(MODES)}")
    parser.add_argument("--gateway-workers", type=int, default=1, help="the gateway's --workers (peak RSS: the largest)")
    parser.add_argument("--log-level", default="info",
                        help="the gateway's --log-level (info: the access line on, written to /dev/null)")
    parser.add_argument("--no-relay", action="store_true", help="skip the bare relay run (the floor)")
    parser.add_argument("--no-pin", action="store_true", help="do not give the gateway a CPU of its own")
    args = parser.parse_args()
    rows = []
    cpu_per_chunk: dict[str, float] = {}
    notes: list[str] = []
    modes = args.mode.split(",")
    for name in modes:
        if name not in MODES:
            parser.error(f"unknown mode {name!r}; known: {', '.join(MODES)}")
    for name in modes:
        rows += run_mode(name, MODES[name], args, cpu_per_chunk, notes) or []
    print(f"\nbench_sse: {benchlib.machine()}")
    print(f"{args.streams} concurrent streams (started over {args.ramp_s:g} s), {args.chunks} chunks "
          f"{args.gap_ms:g} ms apart; gateway workers: {args.gateway_workers}, log level {args.log_level}\n")
    if rows:
        print(benchlib.table(["run", "TTFB p50 ms", "TTFB p99 ms", "delay p50 ms", "delay p99 ms", "chunks",
                              "errors", "CPU us/chunk", "peak RSS MB"], rows))
    if {"passthrough", "bedrock"} <= cpu_per_chunk.keys():
        ratio = cpu_per_chunk["bedrock"] / cpu_per_chunk["passthrough"]
        print(f"\ntranslated (bedrock) CPU per chunk = {ratio:.2f} x passthrough")
    for note in notes:
        print(note)
    return 0


if __name__ == "__main__":
    sys.exit(main())
