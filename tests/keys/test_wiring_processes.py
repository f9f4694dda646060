"""Two real gateway processes on one store: a revoked key stops working on both within
the documented bound (``REFRESH_BOUND_S``), on PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import time

import aiohttp
import portkey_ai
import pytest

from gateway.store import REFRESH_BOUND_S
from tests.gateway_process import GatewayProcess
from tests.keys.test_wiring import ADMIN_KEY, CHAT, PROVIDER_KEY

# The bound is what docs/keys-and-limits.rst promises; the slack only absorbs a loaded test machine
# (a poll that starts late), never a missed change, which would take forever.
SLACK_S = 1.5


@pytest.fixture
def key_files(tmp_path) -> list[str]:
    (tmp_path / "admin.key").write_text(ADMIN_KEY + "\n")
    (tmp_path / "master.key").write_text("a master key of more than thirty-two bytes, for tests\n")
    return ["--admin-key-file", str(tmp_path / "admin.key"), "--master-key-file", str(tmp_path / "master.key")]


async def status_of(session: aiohttp.ClientSession, gateway: GatewayProcess, headers: dict) -> int:
    async with session.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=headers) as response:
        await response.read()
        return response.status


async def until_status(session, gateway, headers, status: int, timeout: float) -> float:
    """Seconds until ``gateway`` answers ``status`` (polled; fails after ``timeout``)."""
    start = time.monotonic()
    async with asyncio.timeout(timeout):
        while await status_of(session, gateway, headers) != status:
            await asyncio.sleep(0.02)
    return time.monotonic() - start


async def test_a_revoked_key_stops_on_every_gateway_within_the_bound(
    store_url, key_files, fake_openai, unused_tcp_port_factory
):
    gateways = [
        await GatewayProcess.start(unused_tcp_port_factory(), "--store", store_url, *key_files) for _ in range(2)
    ]
    try:
        admin = portkey_ai.AsyncPortkey(api_key=ADMIN_KEY, base_url=gateways[0].url + "/v1", max_retries=0)
        vk = await admin.virtual_keys.create(name="team", provider="openai", key=PROVIDER_KEY, custom_host=fake_openai.url)
        created = await admin.api_keys.create(type="workspace", sub_type="service", name="svc")
        headers = {"x-portkey-api-key": created.key, "x-portkey-virtual-key": vk.slug}
        async with aiohttp.ClientSession() as session:
            for gateway in gateways:  # both learn of the new key and virtual key
                await until_status(session, gateway, headers, 200, timeout=10)
            await admin.api_keys.update(id=created.id, status="revoked")
            revoked_at = time.monotonic()
            for gateway in gateways:
                await until_status(session, gateway, headers, 401, timeout=10)
                assert time.monotonic() - revoked_at <= REFRESH_BOUND_S + SLACK_S
        await admin.close()
        assert all(r.headers["Authorization"] == f"Bearer {PROVIDER_KEY}" for r in fake_openai.requests)
    finally:
        for gateway in gateways:
            await gateway.close()
    for gateway in gateways:
        assert PROVIDER_KEY not in str(gateway.lines) and created.key not in str(gateway.lines)
