"""A fleet shares its answers through Redis: two gateway processes, one redis-server."""

from __future__ import annotations

import aiohttp
import pytest
import redis.asyncio as aioredis

from gateway.cache.redis_store import KEY_PREFIX
from tests.cache_client import HELLO, config_headers, counting_upstream  # noqa: F401 (the upstream fixture)
from tests.gateway_process import GatewayProcess


@pytest.fixture
async def two_gateways(redis_server, unused_tcp_port_factory):
    gateways = []
    try:
        for _ in range(2):
            gateways.append(
                await GatewayProcess.start(unused_tcp_port_factory(), "--redis", redis_server.url, "--log-level", "warning")
            )
        yield gateways
    finally:
        for gateway in gateways:
            gateway.process.terminate()
            await gateway.exit_code()


async def test_an_answer_one_gateway_stored_is_a_hit_at_another(two_gateways, upstream, redis_server):
    first, second = two_gateways
    redis = aioredis.Redis.from_url(redis_server.url)
    body = {"model": "gpt-4o-mini", "messages": HELLO, "stream": True}
    try:
        await redis.config_set("notify-keyspace-events", "K$")  # tell us when an entry is SET
        async with redis.pubsub() as pubsub:
            await pubsub.psubscribe(f"__keyspace@0__:{KEY_PREFIX}*")
            await pubsub.get_message(timeout=5)  # the subscription's confirmation
            async with aiohttp.ClientSession() as session:
                async with session.post(first.url + "/v1/chat/completions", json=body, headers=config_headers(upstream)) as r:
                    first_body = await r.read()
                    assert r.headers["x-portkey-cache-status"] == "MISS"
                stored = await pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
                assert stored is not None and stored["data"] == b"set"  # the first gateway wrote it
                async with session.post(second.url + "/v1/chat/completions", json=body, headers=config_headers(upstream)) as r:
                    second_body = await r.read()
                    assert r.headers["x-portkey-cache-status"] == "HIT"
        assert second_body == first_body and upstream.calls == 1
    finally:
        await redis.aclose()
