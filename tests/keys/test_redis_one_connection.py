"""A worker reaches Redis through one connection, whoever calls: the limit counters
and the response cache share it (``gateway/redis_client.py``, ``app[REDIS]``)."""

from __future__ import annotations

import aiohttp
import orjson
import redis.asyncio as aioredis

from gateway.cache.redis_store import KEY_PREFIX
from tests.gateway_process import GatewayProcess
from tests.keys.test_limits_processes import base_args, limited_key  # noqa: F401 (base_args: a fixture)
from tests.keys.test_wiring import CHAT


async def test_limits_and_the_cache_share_one_connection_per_worker(
    base_args, redis_server, fake_openai, unused_tcp_port_factory  # noqa: F811 (the fixture)
):
    gateway = await GatewayProcess.start(unused_tcp_port_factory(), *base_args, "--redis", redis_server.url)
    inspector = aioredis.Redis.from_url(redis_server.url, client_name="inspector")
    try:
        limited = await limited_key(gateway, fake_openai, {"rate_limits": [{"type": "requests", "unit": "rpd", "value": 100}]})
        headers = {
            "x-portkey-api-key": limited["x-portkey-api-key"],
            "x-portkey-config": orjson.dumps(
                {"virtual_key": limited["x-portkey-virtual-key"], "cache": {"mode": "simple", "max_age": 60}}
            ).decode(),
        }
        statuses = []
        await inspector.config_set("notify-keyspace-events", "K$")  # tell us when an entry is SET
        async with inspector.pubsub() as pubsub, aiohttp.ClientSession() as session:
            await pubsub.psubscribe(f"__keyspace@0__:{KEY_PREFIX}*")
            await pubsub.get_message(timeout=5)  # the subscription's confirmation
            for _ in range(2):
                async with session.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=headers) as response:
                    assert response.status == 200, await response.text()
                    await response.read()
                    statuses.append(response.headers["x-portkey-cache-status"])
                    assert "x-ratelimit-remaining-requests" in response.headers
                if statuses[-1] == "MISS":  # stored in the background: wait for the SET
                    stored = await pubsub.get_message(ignore_subscribe_messages=True, timeout=10)
                    assert stored is not None and stored["data"] == b"set"
        assert statuses == ["MISS", "HIT"]
        assert await inspector.keys("gw:rl:*")  # the limit counters are in Redis too
        clients = [client for client in await inspector.client_list() if client["name"] != "inspector"]
        assert len(clients) == 1, clients  # one worker, one connection
    finally:
        await inspector.aclose()
        await gateway.close()
