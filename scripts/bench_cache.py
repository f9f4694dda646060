"""The response cache's cost and gain: a hit from memory and from Redis, and what a miss adds.

    .venv/bin/python scripts/bench_cache.py [--requests 2000] [--rounds 5]

Starts on 127.0.0.1: ``scripts/fake_upstream.py`` (the fixed chat.completion JSON, or
an SSE stream of 100 events), a ``redis-server`` in a temporary directory, and two
gateways (one worker each): one with the memory cache, one with ``--redis``. One client
sends sequential requests over one connection, the cases interleaved in rounds so that
a noisy neighbour slows them alike. For each case it prints the gateway's own time
(its ``x-gateway-overhead-ms`` header: from the request's arrival to the answer's
headers, minus the time spent waiting on the upstream, so for a hit all of it) and
the round trip the client saw:

* ``no cache``: every request has a new body, no cache config (the upstream answers);
* ``miss, memory`` / ``miss, redis``: the same new bodies with ``cache`` on: what a
  cache-enabled miss adds is the difference to ``no cache`` (reading and hashing the
  body, one lookup, keeping the answer; Redis: one GET before, one SET after);
* ``hit, memory`` / ``hit, redis``: the same body again (a Redis hit is one GET);
* ``hit, memory, stream``: a cached stream of 100 events replayed.

Stops everything at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import aiohttp
import benchlib
import orjson
from benchlib import HOST

CACHE_CONFIG = orjson.dumps({"cache": {"mode": "simple", "max_age": 3600}}).decode()


async def one(session, url, headers, body) -> tuple[float, float, str | None]:
    started = time.perf_counter()
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        if response.status != 200:
            raise SystemExit(f"{url}: status {response.status}")
        overhead = float(response.headers["x-gateway-overhead-ms"])
        status = response.headers.get("x-portkey-cache-status")
    return overhead, (time.perf_counter() - started) * 1000, status


async def measure(session, cases: dict[str, tuple], gateways: dict[str, int], args) -> list[list]:
    """Each case ``(gateway, headers, make_body, expected cache status or None)`` in turn, for
    ``args.rounds`` rounds of ``args.requests`` in all: a table row a case."""
    results = {name: ([], []) for name in cases}
    per_round = max(1, args.requests // args.rounds)
    for _ in range(args.rounds):
        for name, (where, case_headers, make_body, expected) in cases.items():
            url = f"http://{HOST}:{gateways[where]}/v1/chat/completions"
            for _ in range(per_round):
                overhead, total, status = await one(session, url, case_headers, make_body())
                if expected is not None and status != expected:
                    raise SystemExit(f"{name}: expected {expected}, got {status}")
                results[name][0].append(overhead)
                results[name][1].append(total)
    return [
        [name, statistics.median(overheads), benchlib.percentile(overheads, 99), statistics.median(totals), len(overheads)]
        for name, (overheads, totals) in results.items()
    ]


def start_upstream_and_redis(processes: benchlib.Processes, directory: str) -> tuple[int, int]:
    """The fake upstream and a throwaway redis-server (no persistence), on free ports: their ports."""
    redis_server = shutil.which("redis-server")
    if redis_server is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    upstream_port, redis_port = benchlib.free_port(), benchlib.free_port()
    processes.start([sys.executable, "scripts/fake_upstream.py", str(upstream_port), "--gap-ms", "0"], port=upstream_port)
    processes.start([redis_server, "--port", str(redis_port), "--bind", HOST, "--dir", directory, "--save", "",
                     "--appendonly", "no"], port=redis_port, stdout=subprocess.DEVNULL)
    return upstream_port, redis_port


async def run(args, gateways: dict[str, int], upstream_port: int) -> list[list]:
    headers = benchlib.gateway_headers(upstream_port)
    cached = {**headers, "x-portkey-config": CACHE_CONFIG}
    fresh = itertools.count()

    def new_body(stream=False) -> bytes:
        body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"question {next(fresh)}"}]}
        if stream:
            body["stream"] = True
        return orjson.dumps(body)

    same = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "the same question"}]})
    same_stream = orjson.dumps({"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "s"}]})
    cases = {
        "no cache": ("memory", headers, new_body, None),
        "miss, memory": ("memory", cached, new_body, "MISS"),
        "hit, memory": ("memory", cached, lambda: same, "HIT"),
        "hit, memory, stream (100 events)": ("memory", cached, lambda: same_stream, "HIT"),
        "miss, redis": ("redis", cached, new_body, "MISS"),
        "hit, redis": ("redis", cached, lambda: same, "HIT"),
    }
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for gateway, port in gateways.items():  # warm up; store the hits' answers
            url = f"http://{HOST}:{port}/v1/chat/completions"
            for where, case_headers, body, _ in cases.values():
                if where == gateway:
                    for _ in range(20):
                        await one(session, url, case_headers, body())
        await asyncio.sleep(0.2)  # Redis stores in the background: let the warm-up land
        return await measure(session, cases, gateways, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per case")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with benchlib.Processes() as processes, tempfile.TemporaryDirectory() as directory:
        upstream_port, redis_port = start_upstream_and_redis(processes, directory)
        gateways = {"memory": benchlib.free_port(), "redis": benchlib.free_port()}
        for name, port in gateways.items():
            command = benchlib.gateway_args(port)
            if name == "redis":
                command += ["--redis", f"redis://{HOST}:{redis_port}/0"]
            processes.start(command, port=port)
        rows = asyncio.run(run(args, gateways, upstream_port))
    print(benchlib.machine())
    print(benchlib.table(["case", "gateway ms p50", "gateway ms p99", "round trip ms p50", "requests"], rows))
    by_name = {row[0]: row for row in rows}
    base = by_name["no cache"][1]
    print(f"a cache-enabled miss adds {by_name['miss, memory'][1] - base:+.3f} ms (memory), "
          f"{by_name['miss, redis'][1] - base:+.3f} ms (redis) of gateway time at p50")


if __name__ == "__main__":
    main()
