"""Soak: a fixed number of mixed requests through the gateway; does memory or fd count grow?

    .venv/bin/python scripts/bench_soak.py [--requests 200000] [--concurrency 32]

Starts on 127.0.0.1 the fake upstream (``scripts/fake_upstream.py``, short streams)
and the gateway (one worker), then sends ``--requests`` requests from
``--concurrency`` clients in this process: plain chat completions, streams read to
their end, and streams the client drops after the first chunk (the gateway must
cancel the upstream call and free everything). Prints the gateway's RSS after each
tenth, whether the last is within 10% of the second (the first tenth warms caches
and pools), and the gateway's open file descriptors at the end, by kind, from
/proc/PID/fd.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from pathlib import Path

import aiohttp
import benchlib
from benchlib import HOST

try:
    import uvloop
except ImportError:
    uvloop = None

PLAIN = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]})
STREAM = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Count"}], "stream": True})


def kind_of(number: int, args) -> str:
    """A fixed, evenly spread mix: the same run every time."""
    slot = number % 100
    if slot < args.dropped_pct:
        return "dropped"
    if slot < args.dropped_pct + args.stream_pct:
        return "stream"
    return "plain"


async def one(session: aiohttp.ClientSession, url: str, kind: str) -> str | None:
    """Make one request; None when it went as it should, else what went wrong."""
    try:
        async with session.post(url, data=PLAIN if kind == "plain" else STREAM) as response:
            if response.status != 200:
                await response.read()
                return f"status {response.status}"
            if kind == "plain":
                return None if (await response.json())["object"] == "chat.completion" else "bad body"
            if kind == "dropped":
                await response.content.readany()
                response.close()  # hang up mid-stream
                return None
            body = await response.read()
            return None if body.endswith(b"data: [DONE]\n\n") else "stream without [DONE]"
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        return type(exc).__name__


async def soak(args, url: str, headers: dict, gateway_pid: int) -> tuple[list[list], dict[str, int]]:
    errors: dict[str, int] = {}
    rows: list[list] = []
    tenth = max(1, args.requests // 10)
    started = time.monotonic()
    next_number = 0
    done = 0

    async def worker(session):
        nonlocal next_number, done
        while next_number < args.requests:
            number = next_number
            next_number += 1
            problem = await one(session, url, kind_of(number, args))
            if problem:
                errors[problem] = errors.get(problem, 0) + 1
            done += 1
            if done % tenth == 0:
                # The worker's memory: the gateway's main process is its supervisor.
                rss = sum(benchlib.proc_status_kb(pid, "VmRSS") for pid in benchlib.children(gateway_pid)) / 1024
                rows.append([f"{done // tenth}/10", done, round(rss, 1), round(time.monotonic() - started, 1),
                             sum(errors.values())])
                print(f"  {done} requests, RSS {rss:.1f} MB", file=sys.stderr, flush=True)

    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(headers=headers, timeout=timeout,
                                     connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:
        await asyncio.gather(*(worker(session) for _ in range(args.concurrency)))
    return rows, errors


def open_fds(pid: int, upstream_port: int, gateway_port: int) -> dict[str, int]:
    """The process's fds by kind; sockets told apart by their ports (/proc/net/tcp)."""
    ports = {}
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local, remote, inode = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16), fields[9]
            ports[inode] = (local, remote)
    kinds: dict[str, int] = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed while we looked
        if target.startswith("socket:["):
            local, remote = ports.get(target[8:-1], (None, None))
            if local == gateway_port and remote == 0:
                kind = "listening socket"
            elif remote == upstream_port:
                kind = "idle upstream keep-alive connection (pooled)"
            elif local == gateway_port:
                kind = "client connection"
            else:
                kind = "other socket"
        elif target.startswith(("pipe:", "anon_inode:")):
            kind = "pipe / epoll / eventfd (event loop)"
        else:
            kind = "file or device"
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--stream-pct", type=int, default=20, help="percent of streams read to their end")
    parser.add_argument("--dropped-pct", type=int, default=10, help="percent of streams dropped after one chunk")
    parser.add_argument("--chunks", type=int, default=10, help="chunks per stream")
    parser.add_argument("--gap-ms", type=float, default=1.0, help="ms between chunks")
    args = parser.parse_args()
    load_cpus, gateway_cpus = benchlib.cpu_split()
    if load_cpus:
        os.sched_setaffinity(0, load_cpus)
    with benchlib.Processes() as procs:
        upstream_port, gateway_port = benchlib.free_port(), benchlib.free_port()
        procs.start([sys.executable, str(benchlib.SCRIPTS / "fake_upstream.py"), str(upstream_port),
                     "--chunks", str(args.chunks), "--gap-ms", str(args.gap_ms)], port=upstream_port, cpus=load_cpus)
        gateway = procs.start(benchlib.gateway_args(gateway_port), port=gateway_port, cpus=gateway_cpus)
        fds_before = open_fds(gateway.pid, upstream_port, gateway_port)
        url = f"http://{HOST}:{gateway_port}/v1/chat/completions"
        rows, errors = (uvloop.run if uvloop else asyncio.run)(
            soak(args, url, benchlib.gateway_headers(upstream_port), gateway.pid))
        # The client has closed its connections; give the gateway a moment to see the FINs.
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            fds_after = open_fds(gateway.pid, upstream_port, gateway_port)
            if not fds_after.get("client connection"):
                break
            time.sleep(0.1)
    print(f"\nbench_soak: {benchlib.machine()}")
    print(f"{args.requests} requests, {args.concurrency} at a time: {100 - args.stream_pct - args.dropped_pct}% plain, "
          f"{args.stream_pct}% streams of {args.chunks} chunks, {args.dropped_pct}% streams dropped after one chunk\n")
    print(benchlib.table(["after", "requests", "gateway RSS MB", "seconds", "errors"], rows))
    if errors:
        print("errors: " + ", ".join(f"{k}: {v}" for k, v in errors.items()))
    if len(rows) >= 2:
        second, last = rows[1][2], rows[-1][2]
        growth = (last - second) / second
        verdict = "within" if abs(growth) <= 0.10 else "NOT within"
        print(f"\nlast RSS {last} MB is {verdict} 10% of the second ({second} MB): {growth:+.1%}")
    print("\nopen fds before the run: " + ", ".join(f"{k}: {v}" for k, v in sorted(fds_before.items())))
    print("open fds after the run:  " + ", ".join(f"{k}: {v}" for k, v in sorted(fds_after.items())))
    pooled = "idle upstream keep-alive connection (pooled)"
    left = sum(fds_after.values()) - fds_after.get(pooled, 0) - (sum(fds_before.values()) - fds_before.get(pooled, 0))
    print(f"fds left open by the run (besides pooled upstream connections): {left}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
