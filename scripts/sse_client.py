"""The streaming benchmarks' client (its own process): N concurrent SSE streams.

    python scripts/sse_client.py URL --streams 1000 --chunks 100 [--headers JSON] [--ramp-s 1]

Opens the streams (their starts spread evenly over ``--ramp-s``), reads each to its
end, and prints one JSON object: per-stream time to first byte, per-chunk delay
(receive time minus the ``t=`` send time the upstream embedded, both
``time.monotonic()``), and the errors (a failed request, a status other than 200, a
missing ``[DONE]``, or a chunk count other than ``--chunks``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time

import aiohttp

try:
    import uvloop
except ImportError:
    uvloop = None

STAMP = re.compile(rb"t=(\d+\.\d+)")
BODY = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Count to 100"}], "stream": True})


class Results:
    def __init__(self) -> None:
        self.ttfb_ms: list[float] = []
        self.delay_ms: list[float] = []
        self.errors: dict[str, int] = {}

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def one_stream(session: aiohttp.ClientSession, url: str, headers: dict, chunks: int, results: Results) -> None:
    started = time.monotonic()
    try:
        async with session.post(url, data=BODY, headers=headers) as response:
            if response.status != 200:
                results.error(f"status {response.status}")
                await response.read()
                return
            seen, tail, first, done = 0, b"", True, False
            async for data in response.content.iter_any():
                received = time.monotonic()
                if first:
                    results.ttfb_ms.append((received - started) * 1000)
                    first = False
                # Events may be split across reads: stamps are taken from whole events only.
                data = tail + data
                cut = data.rfind(b"\n\n") + 2
                whole, tail = data[:cut], data[cut:]
                for stamp in STAMP.findall(whole):
                    results.delay_ms.append((received - float(stamp)) * 1000)
                    seen += 1
                done = b"data: [DONE]" in whole
            if not done:
                results.error("no [DONE]")
            elif seen != chunks:
                results.error("wrong chunk count")
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        results.error(type(exc).__name__)


async def run(args) -> Results:
    results = Results()
    headers = {"Content-Type": "application/json", **json.loads(args.headers)}
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        for _i in range(args.streams):
            tasks.append(asyncio.create_task(one_stream(session, args.url, headers, args.chunks, results)))
            if args.ramp_s:
                await asyncio.sleep(args.ramp_s / args.streams)
        await asyncio.gather(*tasks)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url")
    parser.add_argument("--streams", type=int, default=1000)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--headers", default="{}", help="JSON object of request headers")
    parser.add_argument("--ramp-s", type=float, default=1.0, help="seconds over which the streams start")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds one stream may take in all")
    args = parser.parse_args()
    results = (uvloop.run if uvloop else asyncio.run)(run(args))
    json.dump({"ttfb_ms": results.ttfb_ms, "delay_ms": results.delay_ms, "errors": results.errors}, sys.stdout)


if __name__ == "__main__":
    main()
