"""The response cache in Redis (a real redis-server): shared, with TTLs in Redis,
compressed above a size, and a Redis failure is a miss, never an error."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aioredis

from gateway.cache import RESPONSE_CACHE
from gateway.cache.entry import CachedAnswer
from gateway.cache.redis_store import KEY_PREFIX
from gateway.settings import Settings
from tests.cache_client import chat, config_headers, counting_upstream, status_of  # noqa: F401 (the upstream fixture)


@pytest.fixture
def settings(redis_server) -> Settings:
    return Settings(redis_url=redis_server.url)


@pytest.fixture
async def redis(redis_server):
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


async def stored(redis) -> dict[bytes, bytes]:
    keys = await redis.keys(KEY_PREFIX + "*")
    return {key: await redis.get(key) for key in keys}


@pytest.mark.parametrize("stream", [False, True])
async def test_a_hit_from_redis_is_the_first_answer(client, upstream, gateway, redis, stream):
    headers = config_headers(upstream)
    first, first_body = await chat(client, headers, stream=stream)
    await gateway.app[RESPONSE_CACHE].settled()  # stored in the background, after the answer
    second, second_body = await chat(client, headers, stream=stream)
    assert (status_of(first), status_of(second)) == ("MISS", "HIT")
    assert second_body == first_body and upstream.calls == 1
    assert "x-request-id" not in second.headers
    (key, blob), = (await stored(redis)).items()
    assert len(key) == len(KEY_PREFIX) + 40  # a digest: nothing of the request in the key
    ttl = await redis.ttl(key)
    assert 0 < ttl <= 60  # max_age, kept by Redis itself
    assert CachedAnswer.decode(blob).chunks[-1].endswith(b"[DONE]\n\n" if stream else b"}")


async def test_entries_are_compressed_above_a_size(client, upstream, gateway, redis):
    headers = config_headers(upstream)
    await chat(client, headers, stream=True)  # about 1.5 kB of events
    await chat(client, headers)  # about 300 bytes
    await gateway.app[RESPONSE_CACHE].settled()
    kinds = sorted(blob[4:5] for blob in (await stored(redis)).values())
    assert kinds == [b"\x00", b"\x01"]  # one plain, one zlib
    for blob in (await stored(redis)).values():
        assert len(blob) < 1100


async def test_concurrent_identical_requests_leave_one_whole_entry(client, upstream, gateway, redis):
    upstream.gate = asyncio.Event()
    headers = config_headers(upstream)
    many = [asyncio.ensure_future(chat(client, headers, stream=True)) for _ in range(6)]
    await upstream.wait_for_calls(6)
    upstream.gate.set()
    bodies = {body for _, body in await asyncio.gather(*many)}
    await gateway.app[RESPONSE_CACHE].settled()
    (blob,) = (await stored(redis)).values()
    assert b"".join(CachedAnswer.decode(blob).chunks) in bodies
    hit, hit_body = await chat(client, headers, stream=True)
    assert status_of(hit) == "HIT" and hit_body in bodies


async def test_redis_down_is_a_miss_and_one_log_line(client, upstream, gateway, redis_server, caplog):
    caplog.set_level(logging.WARNING, logger="gateway.cache")
    await redis_server.kill()
    headers = config_headers(upstream)
    for _ in range(3):
        response, body = await chat(client, headers)
        assert response.status == 200 and status_of(response) == "MISS" and b"answer" in body
    await gateway.app[RESPONSE_CACHE].settled()
    warnings = [record.getMessage() for record in caplog.records if record.name == "gateway.cache"]
    assert len(warnings) == 1 and "redis lookup failed" in warnings[0]  # once a minute at most
    assert upstream.calls == 3


async def test_a_hung_redis_is_a_miss_after_the_cache_timeout(client, upstream, gateway, redis_server):
    redis_server.pause()
    try:
        response, _ = await asyncio.wait_for(chat(client, config_headers(upstream)), timeout=5)
        assert response.status == 200 and status_of(response) == "MISS"
    finally:
        redis_server.resume()


async def test_a_damaged_entry_is_a_miss(client, upstream, gateway, redis):
    headers = config_headers(upstream)
    await chat(client, headers)
    await gateway.app[RESPONSE_CACHE].settled()
    (key,) = (await stored(redis)).keys()
    await redis.set(key, b"GWC1\x01not zlib")
    response, body = await chat(client, headers)
    assert status_of(response) == "MISS" and b"answer 2" in body
