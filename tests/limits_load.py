"""A load process for the exactness tests: ``python -m tests.limits_load '<json>'``.

Opens the counters named in the JSON, prints ``ready``, waits for ``go`` on stdin (so all
processes start together), runs, and prints one JSON line of results.
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass

from gateway.limits.counters import Subject
from gateway.limits.embedded import EmbeddedCounters
from gateway.limits.model import parse_limits


@dataclass(frozen=True)
class Usage:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


def open_backend(spec: dict):
    if spec["backend"] == "redis":
        from gateway.limits.redis_backend import RedisCounters

        return RedisCounters(spec["url"], timeout=5.0)
    return EmbeddedCounters(spec["path"], timeout=5.0)


async def main(spec: dict) -> None:
    counters = open_backend(spec)
    subjects = [Subject(spec["scope"], parse_limits(spec.get("rate_limits"), spec.get("usage_limits")))]
    now = spec["now"]
    # A first round trip before "ready" so connecting is not part of the race.
    await counters.usage(spec["scope"], "2000-01-01", "2000-01-01")
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    if spec["mode"] == "requests":
        decisions = await asyncio.gather(*(counters.check_and_charge_requests(subjects, now=now) for _ in range(spec["calls"])))
        result = {"allowed": sum(d.allowed for d in decisions), "unavailable": sum(d.unavailable for d in decisions)}
    else:  # "tokens": each task asks, "calls the model", and charges its tokens, until refused
        usage = Usage(input=spec["tokens"] // 2, output=spec["tokens"] - spec["tokens"] // 2)

        async def one_task() -> int:
            admitted = 0
            while (await counters.admit(subjects, now=now)).allowed:
                admitted += 1
                await asyncio.sleep(0)  # the call: let the other tasks run between check and charge
                await counters.charge_usage(subjects, usage, None, now=now)
            return admitted

        result = {"admitted": sum(await asyncio.gather(*(one_task() for _ in range(spec["tasks"]))))}
    await counters.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
