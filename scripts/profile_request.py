"""Where the gateway's CPU goes per request: an in-process gateway, profiled.

    .venv/bin/python scripts/profile_request.py [--requests 4000] [--connections 32]
        [--stream-chunks 0 [--gap-ms 0]] [--profile none|cprofile|pyinstrument] [--log-level info] [--bare]
        [--keys off|on|rate-limited]

Starts ``scripts/fake_upstream.py`` (its own process; with ``--stream-chunks N`` it
answers SSE streams of N chunks, ``--gap-ms`` apart), serves the gateway's app in this
process (uvloop, the worker's runner, the access line written to /dev/null at
``--log-level``), and sends ``--requests`` chat completions over ``--connections``
kept-alive connections from a client process of its own (after a warm-up), so that
this process's CPU time is the gateway's alone. Prints the gateway's CPU µs per
request (``time.process_time``), and with ``--profile`` the profile of the measured
requests (cProfile sorted by own time, or pyinstrument's tree). ``--keys on`` serves
the gateway with a SQLite store holding an API key and a virtual key, which each
request presents (``scripts/bench_overhead.py``'s "API key + virtual key" row);
``--keys rate-limited`` adds a ``requests`` rate limit that is never reached, counted in
a ``redis-server`` this script starts on loopback (its "keys + rate limit (Redis)" row).
Compare two trees
with the same arguments. Other load on the machine moves the CPU figure; instruction
counts do not::

    valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file=/tmp/cg.out \
        .venv/bin/python scripts/profile_request.py --callgrind --requests 1000
    callgrind_annotate /tmp/cg.out | head   # "PROGRAM TOTALS": instructions for 1000 requests
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import benchlib
from benchlib import HOST

sys.path.insert(0, str(benchlib.REPO))

from gateway.app import create_app  # noqa: E402
from gateway.log import configure_logging  # noqa: E402
from gateway.process import heap  # noqa: E402
from gateway.process.worker import new_loop  # noqa: E402
from gateway.serving import make_runner  # noqa: E402
from gateway.settings import Settings, parse_settings  # noqa: E402

CLIENT = r"""
import asyncio, sys, json
try:
    import uvloop
except ImportError:
    uvloop = None

async def main(port, total, conns, headers, body):
    head = ("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n" % len(body)
            + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode() + body
    left = [total]
    async def worker():
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while left[0] > 0:
            left[0] -= 1
            writer.write(head)
            status = await reader.readline()
            assert status.startswith(b"HTTP/1.1 200"), status
            length, chunked = None, False
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
                elif name.lower() == "transfer-encoding":
                    chunked = True
            if chunked:
                while True:
                    size = int((await reader.readline()).strip(), 16)
                    await reader.readexactly(size + 2)
                    if size == 0:
                        break
            else:
                await reader.readexactly(length)
        writer.close()
    await asyncio.gather(*(worker() for _ in range(conns)))

port, total, conns, headers, body = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4]), sys.argv[5].encode()
(uvloop.run if uvloop else asyncio.run)(main(port, total, conns, headers, body))
"""


async def run_client(port: int, total: int, conns: int, headers: dict, body: bytes) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", CLIENT, str(port), str(total), str(conns), json.dumps(headers), body.decode()
    )
    if await process.wait() != 0:
        raise SystemExit("the client failed")


async def serve(args) -> None:
    upstream_port, gateway_port = benchlib.free_port(), benchlib.free_port()
    with tempfile.TemporaryDirectory(prefix="profile-request-") as tmp, benchlib.Processes() as procs:
        procs.start([sys.executable, str(benchlib.SCRIPTS / "fake_upstream.py"), str(upstream_port),
                     "--chunks", str(max(1, args.stream_chunks)), "--gap-ms", str(args.gap_ms)], port=upstream_port)
        if args.bare:  # the floor: scripts/bare_relay.py's app, same loop, same client
            import bare_relay
            from aiohttp import web

            runner = web.AppRunner(bare_relay.create_app(f"http://{HOST}:{upstream_port}"), access_log=None)
        elif args.keys != "off":
            settings, headers = keyed_settings(args, procs, Path(tmp), upstream_port)
            runner = make_runner(create_app(settings), settings)
        else:
            settings = Settings(log_level=args.log_level, metrics=args.metrics == "on")
            runner = make_runner(create_app(settings), settings)
        await runner.setup()
        heap.settle()  # as ``python -m gateway`` does (the collector's settings)
        await web_site(runner, gateway_port).start()
        if args.bare or args.keys == "off":
            headers = benchlib.gateway_headers(upstream_port)
        chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}], "max_tokens": 16}
        if args.stream_chunks:
            chat["stream"] = True
        body = json.dumps(chat).encode()
        await run_client(gateway_port, max(200, args.requests // 10), args.connections, headers, body)  # warm-up
        profiler = None
        if args.profile == "cprofile":
            profiler = cProfile.Profile()
            profiler.enable()
        elif args.profile == "pyinstrument":
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002, async_mode="disabled")
            profiler.start()
        if args.callgrind:
            callgrind_instrumentation("on")
        started = time.process_time()
        await run_client(gateway_port, args.requests, args.connections, headers, body)
        used = time.process_time() - started
        if args.callgrind:
            callgrind_instrumentation("off")
        if args.profile == "cprofile":
            profiler.disable()
            if args.profile_out:
                profiler.dump_stats(args.profile_out)
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(args.top)
            print(out.getvalue())
        elif args.profile == "pyinstrument":
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        await runner.cleanup()
    target = "bare relay" if args.bare else {"off": "gateway", "on": "gateway (API key + virtual key)",
                                              "rate-limited": "gateway (keys + rate limit in Redis)"}[args.keys]
    kind = f"streams of {args.stream_chunks} chunks" if args.stream_chunks else "small JSON answers"
    print(f"{args.requests} requests ({kind}), {args.connections} connections, log level {args.log_level}, "
          f"metrics {args.metrics}, profile {args.profile}: {target} CPU {used / args.requests * 1e6:.1f} us/request")


def keyed_settings(args, procs: benchlib.Processes, tmp: Path, upstream_port: int) -> tuple[Settings, dict[str, str]]:
    """bench_overhead's keyed rows in process: a store with an API key and a virtual key
    (made by its ``keys_store``), with a rate limit counted in a Redis of our own for
    ``--keys rate-limited``; the settings to serve it and the headers a client sends."""
    from bench_overhead import keys_store

    fields = None
    argv = ["--log-level", args.log_level, "--metrics", args.metrics]
    if args.keys == "rate-limited":
        benchlib.need_commands({"redis-server": "redis-server"})
        redis_port = benchlib.free_port()
        procs.start(["redis-server", "--port", str(redis_port), "--bind", HOST, "--save", "", "--appendonly", "no",
                     "--dir", str(tmp)], port=redis_port, stdout=subprocess.DEVNULL)
        fields = {"rate_limits": [{"type": "requests", "unit": "rpm", "value": 1_000_000_000}]}
        argv += ["--redis", f"redis://{HOST}:{redis_port}/0"]
    env, headers = keys_store(tmp, upstream_port, fields)
    return parse_settings(argv, env), headers


def callgrind_instrumentation(state: str) -> None:
    """Under ``valgrind --tool=callgrind --instr-atstart=no``: count only the measured requests."""
    import subprocess

    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], check=True, capture_output=True)


def web_site(runner, port: int):
    from aiohttp import web

    return web.TCPSite(runner, HOST, port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--stream-chunks", type=int, default=0, help="0: whole JSON answers; N: SSE of N chunks")
    parser.add_argument("--gap-ms", type=float, default=0.0, help="streams: ms between chunks (each its own read)")
    parser.add_argument("--profile", choices=("none", "cprofile", "pyinstrument"), default="none")
    parser.add_argument("--top", type=int, default=45, help="cProfile: how many functions to print")
    parser.add_argument("--log-level", default="info")
    parser.add_argument("--metrics", choices=("on", "off"), default="on", help="the gateway's --metrics")
    parser.add_argument("--profile-out", help="cProfile: also save the stats here (for pstats' callers view)")
    parser.add_argument("--callgrind", action="store_true",
                        help="run under valgrind --tool=callgrind --instr-atstart=no: count the measured requests only")
    parser.add_argument("--bare", action="store_true", help="serve scripts/bare_relay.py's app instead (the floor)")
    parser.add_argument("--keys", choices=("off", "on", "rate-limited"), default="off",
                        help="on: requests present an API key and a virtual key from a store; rate-limited: "
                             "and the API key has a rate limit (never reached) counted in a Redis on loopback")
    args = parser.parse_args()
    configure_logging(args.log_level, open(os.devnull, "w"))  # noqa: SIM115 - as in production, to /dev/null
    loop = new_loop()
    try:
        loop.run_until_complete(serve(args))
    finally:
        loop.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
