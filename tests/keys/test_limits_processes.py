"""Exactness across processes: a key limited to L requests per minute, 4 × L concurrent
requests, exactly L answered — two gateways sharing one Redis, and one gateway with
``--workers 2`` on the embedded counters. Then Redis killed mid-test."""

from __future__ import annotations

import asyncio

import aiohttp
import portkey_ai
import pytest

from tests.gateway_process import GatewayProcess
from tests.keys.test_wiring import ADMIN_KEY, CHAT, PROVIDER_KEY

L = 5


@pytest.fixture
def base_args(tmp_path) -> list[str]:
    (tmp_path / "admin.key").write_text(ADMIN_KEY + "\n")
    (tmp_path / "master.key").write_text("a master key of more than thirty-two bytes, for tests\n")
    return [
        "--store", str(tmp_path / "state" / "gateway.db"),
        "--admin-key-file", str(tmp_path / "admin.key"),
        "--master-key-file", str(tmp_path / "master.key"),
        "--limits-db", str(tmp_path / "limits.sqlite3"),
    ]


async def limited_key(gateway: GatewayProcess, fake_openai, limits: dict) -> dict:
    admin = portkey_ai.AsyncPortkey(api_key=ADMIN_KEY, base_url=gateway.url + "/v1", max_retries=0)
    vk = await admin.virtual_keys.create(name="team", provider="openai", key=PROVIDER_KEY, custom_host=fake_openai.url)
    created = await admin.api_keys.create(type="workspace", sub_type="service", name="svc", **limits)
    await admin.close()
    return {"x-portkey-api-key": created.key, "x-portkey-virtual-key": vk.slug}


async def statuses(gateways: list[GatewayProcess], headers: dict, count: int) -> list[int]:
    """``count`` requests at once, spread over ``gateways``."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:

        async def one(index: int) -> int:
            url = gateways[index % len(gateways)].url + "/v1/chat/completions"
            async with session.post(url, json=CHAT, headers=headers) as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(i) for i in range(count))))


async def until_known(gateways: list[GatewayProcess], headers: dict, workers: int = 1) -> None:
    """Every worker of every gateway answers ``headers`` (a key without limits, created
    last: a view that knows it knows every key created before it) with a 200."""
    async with asyncio.timeout(20):
        for gateway in gateways:
            while True:
                # A new connection each time: SO_REUSEPORT spreads connections over workers.
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
                    async with session.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=headers) as response:
                        await response.read()
                pids = {line.get("pid") for line in gateway.lines
                        if line.get("path") == "/v1/chat/completions" and line.get("status") == 200}
                if len(pids) >= workers:
                    break
                await asyncio.sleep(0.02)


RPM = {"rate_limits": [{"type": "requests", "unit": "rpm", "value": L}]}


async def test_two_gateways_sharing_redis_admit_exactly_l(base_args, redis_server, fake_openai, unused_tcp_port_factory):
    args = [*base_args, "--redis", redis_server.url]
    gateways = [await GatewayProcess.start(unused_tcp_port_factory(), *args) for _ in range(2)]
    try:
        limited = await limited_key(gateways[0], fake_openai, RPM)
        await until_known(gateways, await limited_key(gateways[0], fake_openai, {}))
        results = await statuses(gateways, limited, 4 * L)
        assert results.count(200) == L and results.count(429) == 3 * L, results
    finally:
        for gateway in gateways:
            await gateway.close()


async def test_two_embedded_workers_admit_exactly_l(base_args, fake_openai, unused_tcp_port):
    gateway = await GatewayProcess.start(unused_tcp_port, *base_args, "--workers", "2")
    try:
        await gateway.wait_for_log(lambda line: line.get("msg") == "listening", count=2)
        limited = await limited_key(gateway, fake_openai, RPM)
        await until_known([gateway], await limited_key(gateway, fake_openai, {}), workers=2)
        results = await statuses([gateway], limited, 4 * L)
        assert results.count(200) == L and results.count(429) == 3 * L, results
    finally:
        await gateway.close()


async def test_redis_killed_rate_limits_fail_open_budgets_closed(
    base_args, redis_server, fake_openai, unused_tcp_port_factory
):
    gateway = await GatewayProcess.start(unused_tcp_port_factory(), *base_args, "--redis", redis_server.url, "--limits-timeout", "0.3")
    try:
        rated = await limited_key(gateway, fake_openai, {"rate_limits": [{"type": "requests", "unit": "rpd", "value": 1000}]})
        budgeted = await limited_key(gateway, fake_openai, {"usage_limits": {"token_limit": 100000}})
        await until_known([gateway], await limited_key(gateway, fake_openai, {}))
        await redis_server.kill()
        async with asyncio.timeout(10):
            assert await statuses([gateway], rated, 1) == [200]  # fail open
            assert await statuses([gateway], budgeted, 1) == [503]  # fail closed
        async with aiohttp.ClientSession() as session, session.get(gateway.url + "/ready") as response:
            assert response.status == 200
        assert any("rate limits fail open" in str(line.get("msg")) for line in gateway.lines)
    finally:
        await gateway.close()
