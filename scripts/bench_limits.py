"""Cost of the limit counters per call: embedded (SQLite + flock) and Redis on loopback.

    .venv/bin/python scripts/bench_limits.py [--calls 5000] [--processes 1,4]

For each backend, operation and process count, every process makes ``--calls``
sequential calls against the same key (the worst case: one contended counter) after
all have connected; prints per-call latency p50 / p99 and the total throughput.
Operations: ``check_and_charge_requests`` (one rpm limit), ``admit`` (request rpm +
token rpm + a monthly credit budget: what the wiring calls before each request) and
``charge_usage`` (after it). Redis is a ``redis-server`` this script starts on a free
port in a temporary directory (skipped when not installed); everything is stopped at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import benchlib

sys.path.insert(0, str(benchlib.REPO))

from gateway.limits.counters import Subject  # noqa: E402
from gateway.limits.embedded import EmbeddedCounters  # noqa: E402
from gateway.limits.model import parse_limits  # noqa: E402

HUGE = 10**12
REQUESTS_ONLY = parse_limits([{"type": "requests", "unit": "rpm", "value": HUGE}])
FULL = parse_limits(
    [{"type": "requests", "unit": "rpm", "value": HUGE}, {"type": "tokens", "unit": "rpm", "value": HUGE}],
    {"credit_limit": 9_000_000, "periodic_reset": "monthly"},
)


@dataclass(frozen=True)
class Usage:
    input: int = 1200
    output: int = 300
    cache_read: int = 200
    cache_write: int = 0
    reasoning: int = 0


def open_backend(backend: str, target: str):
    if backend == "redis":
        from gateway.limits.redis_backend import RedisCounters

        return RedisCounters(target, timeout=5.0)
    return EmbeddedCounters(target, timeout=5.0)


async def measure(backend: str, target: str, operation: str, calls: int, barrier) -> list[float]:
    counters = open_backend(backend, target)
    requests_only, full = [Subject("bench", REQUESTS_ONLY)], [Subject("bench", FULL)]
    usage, cost = Usage(), Decimal("0.0045")
    call = {
        "check_and_charge_requests": lambda: counters.check_and_charge_requests(requests_only),
        "admit": lambda: counters.admit(full),
        "charge_usage": lambda: counters.charge_usage(full, usage, cost),
    }[operation]
    await call()  # connected, scripts loaded
    await asyncio.get_running_loop().run_in_executor(None, barrier.wait)
    latencies = []
    for _ in range(calls):
        start = time.perf_counter()
        await call()
        latencies.append(time.perf_counter() - start)
    await counters.close()
    return latencies


def worker(backend, target, operation, calls, barrier, results) -> None:
    results.put(asyncio.run(measure(backend, target, operation, calls, barrier)))


def run(backend: str, target: str, operation: str, processes: int, calls: int) -> tuple[float, float, float]:
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes + 1), context.Queue()
    workers = [context.Process(target=worker, args=(backend, target, operation, calls, barrier, results))
               for _ in range(processes)]
    for process in workers:
        process.start()
    barrier.wait()
    start = time.perf_counter()
    latencies = sorted(sum((results.get() for _ in workers), []))
    elapsed = time.perf_counter() - start
    for process in workers:
        process.join()
    return latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)], len(latencies) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5000, help="calls per process")
    parser.add_argument("--processes", default="1,4", help="comma-separated process counts")
    args = parser.parse_args()
    counts = [int(n) for n in args.processes.split(",")]
    operations = ("check_and_charge_requests", "admit", "charge_usage")
    print(benchlib.machine())
    print(f"{'backend':9} {'operation':27} {'procs':>5} {'p50 µs':>8} {'p99 µs':>8} {'calls/s':>9}")
    with tempfile.TemporaryDirectory() as tmp, benchlib.Processes() as processes:
        targets = [("embedded", lambda op: str(Path(tmp) / f"{op}.sqlite3"))]
        redis_server = shutil.which("redis-server")
        if redis_server:
            port = benchlib.free_port()
            processes.start([redis_server, "--port", str(port), "--bind", benchlib.HOST, "--dir", tmp, "--save", "",
                             "--appendonly", "no", "--loglevel", "warning"], port=port)
            targets.append(("redis", lambda op: f"redis://{benchlib.HOST}:{port}/0"))
        else:
            print("redis-server not installed: Redis rows skipped")
        for backend, target in targets:
            for operation in operations:
                for count in counts:
                    p50, p99, rate = run(backend, target(operation), operation, count, args.calls)
                    print(f"{backend:9} {operation:27} {count:5} {p50 * 1e6:8.1f} {p99 * 1e6:8.1f} {rate:9.0f}", flush=True)


if __name__ == "__main__":
    main()
