"""What semantic mode adds to a request: in-process pieces, and through the gateway.

    .venv/bin/python scripts/bench_semantic_cache.py [--requests 1000] [--rounds 5]

1. In this process, without the embedding call's network time (``timeit``-style, the
   median of many runs): splitting a 1 kB chat body and naming its bucket; reading a
   1536-float embeddings answer into a unit vector; searching a full bucket (64 entries
   of 1536 floats) in memory; and in a local ``redis-server`` (one ``HGETALL``, scored
   with numpy).
2. Through the gateway (one worker each, memory and ``--redis``), against
   ``scripts/fake_upstream.py``, which answers the chat and the embeddings (1536
   floats; texts with the same first word get the same vector): the gateway's own
   time (``x-gateway-overhead-ms``, which counts the embedding call, on loopback, as
   gateway time: it is not an upstream attempt) and the round trip, for a simple-mode
   miss (the baseline), a semantic miss and a semantic hit. Every semantic miss
   lands in the same bucket, so their searches run over a full bucket (64 entries).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import statistics
import tempfile
import time

import aiohttp
import benchlib
import numpy as np
import orjson
from bench_cache import measure, one, start_upstream_and_redis
from benchlib import HOST

from gateway.cache.semantic.bucket import bucket_id
from gateway.cache.semantic.embedder import _first_vector
from gateway.cache.semantic.memory_index import MemoryVectorIndex
from gateway.cache.semantic.prompt import semantic_query
from gateway.cache.semantic.redis_index import RedisVectorIndex
from gateway.cache.semantic.vectors import unit_vector
from gateway.redis_client import RedisClient

DIMENSIONS = 1536
PER_BUCKET = 64
SEMANTIC = orjson.dumps({"cache": {"mode": "semantic", "max_age": 3600}}).decode()
SIMPLE = orjson.dumps({"cache": {"mode": "simple", "max_age": 3600}}).decode()


def median_us(function, runs: int = 2000) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e6


async def pieces(redis_url: str) -> list[list]:
    rng = np.random.default_rng(1)
    vectors = [unit_vector(rng.standard_normal(DIMENSIONS)) for _ in range(PER_BUCKET + 1)]
    question = vectors[-1]
    body = {"model": "gpt-4o-mini", "temperature": 0.2, "messages": [
        {"role": "system", "content": "You answer questions about geography. " * 10},
        {"role": "user", "content": "What is the capital of France, and why is it there? " * 8}]}
    answer = orjson.dumps({"object": "list", "data": [{"object": "embedding", "index": 0,
                           "embedding": rng.standard_normal(DIMENSIONS).tolist()}], "model": "m"})
    memory = MemoryVectorIndex(per_bucket=PER_BUCKET, max_bytes=1 << 30)
    for number, vector in enumerate(vectors[:-1]):
        memory.add_now("b", f"k{number}", vector, time.time() + 3600)
    rows = [
        ["split the body, name the bucket (1 kB chat)", median_us(lambda: bucket_id(("p", "f"), semantic_query("chat/completions", body).rest))],
        ["read a 1536-float embeddings answer", median_us(lambda: _first_vector(answer))],
        [f"search {PER_BUCKET} x {DIMENSIONS} in memory", median_us(lambda: memory.search_now("b", question, 0.95))],
    ]
    client = RedisClient(redis_url)  # the gateway's own client
    try:
        fleet = RedisVectorIndex(client, per_bucket=PER_BUCKET)
        for number, vector in enumerate(vectors[:-1]):
            await fleet.add("b", f"k{number}", vector, time.time() + 3600)
        times = []
        for _ in range(500):
            started = time.perf_counter()
            await fleet.search("b", question, 0.95)
            times.append(time.perf_counter() - started)
        rows.append([f"search {PER_BUCKET} x {DIMENSIONS} in redis (one HGETALL, local)", statistics.median(times) * 1e6])
    finally:
        await client.close()
    return rows


async def through_gateways(args, gateways: dict[str, int], upstream_port: int) -> list[list]:
    headers = benchlib.gateway_headers(upstream_port)
    fresh = itertools.count()

    def body(text: str, **params) -> bytes:
        return orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}], **params})

    def new_word() -> bytes:  # a new first word: a new vector, far from every other (and a bucket
        # of its own, full of them: the hits' bucket holds one entry the misses never push out)
        return body(f"w{next(fresh)} is a question nobody asked", temperature=0.5)

    def same_word() -> bytes:  # the same first word: the same vector, another exact key
        return body(f"alpha question {next(fresh)}")

    simple = {**headers, "x-portkey-config": SIMPLE}
    semantic = {**headers, "x-portkey-config": SEMANTIC}
    cases = {}
    for where in gateways:
        cases[f"simple miss, {where}"] = (where, simple, new_word, "MISS")
        cases[f"semantic miss, {where}"] = (where, semantic, new_word, "SEMANTIC MISS")
        cases[f"semantic hit, {where}"] = (where, semantic, same_word, "SEMANTIC HIT")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as session:
        for port in gateways.values():  # the hits' answer, and a full bucket for the misses
            url = f"http://{HOST}:{port}/v1/chat/completions"
            await one(session, url, semantic, body("alpha question first"))
            for _ in range(PER_BUCKET):
                await one(session, url, semantic, new_word())
        await asyncio.sleep(0.3)  # Redis stores in the background: let the warm-up land
        return await measure(session, cases, gateways, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="per case")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with benchlib.Processes() as processes, tempfile.TemporaryDirectory() as directory:
        upstream_port, redis_port = start_upstream_and_redis(processes, directory)
        redis_url = f"redis://{HOST}:{redis_port}/0"
        embeddings = orjson.dumps({"provider": "openai", "api_key": "sk-bench", "model": "text-embedding-3-small",
                                   "custom_host": f"http://{HOST}:{upstream_port}/v1"}).decode()
        gateways = {"memory": benchlib.free_port(), "redis": benchlib.free_port()}
        for name, port in gateways.items():
            command = benchlib.gateway_args(port) + ["--semantic-cache-embeddings", embeddings]
            if name == "redis":
                command += ["--redis", redis_url]
            processes.start(command, port=port)
        in_process = asyncio.run(pieces(redis_url))
        rows = asyncio.run(through_gateways(args, gateways, upstream_port))
    print(benchlib.machine())
    print(benchlib.table(["piece (no embedding call)", "us p50"], in_process))
    print(benchlib.table(["case", "gateway ms p50", "gateway ms p99", "round trip ms p50", "requests"], rows))
    by_name = {row[0]: row for row in rows}
    for where in ("memory", "redis"):
        base = by_name[f"simple miss, {where}"][1]
        print(f"{where}: a semantic miss adds {by_name[f'semantic miss, {where}'][1] - base:+.3f} ms of gateway time "
              f"at p50 (embedding call to the local fake included); a semantic hit takes "
              f"{by_name[f'semantic hit, {where}'][1]:.3f} ms")


if __name__ == "__main__":
    main()
