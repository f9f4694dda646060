"""The most a token budget can overshoot, through the gateway: the tokens of the requests
in flight when it is crossed (each admitted while something was left, charged after its
answer). On the embedded counters and on a real Redis."""

from __future__ import annotations

import asyncio

import portkey_ai
import pytest

from gateway.settings import Settings
from gateway.store.runtime import STORE_RUNTIME
from tests.keys.test_limits_wiring import TOKENS_PER_CALL, charged, setup, until
from tests.keys.test_wiring import ADMIN, ADMIN_KEY, post_chat
from tests.redis_server import RedisServer

LIMIT = 50  # tokens; each call spends TOKENS_PER_CALL (6)
IN_FLIGHT = 12


@pytest.fixture(params=["embedded", "redis"])
async def settings(request, tmp_path, unused_tcp_port):
    (tmp_path / "admin.key").write_text(ADMIN_KEY + "\n")
    (tmp_path / "master.key").write_text("a master key of more than thirty-two bytes, for tests\n")
    server = None
    if request.param == "redis":
        server = RedisServer(tmp_path, unused_tcp_port)
        await server.start()
    yield Settings(
        store=str(tmp_path / "state" / "gateway.db"),
        admin_key_file=str(tmp_path / "admin.key"),
        master_key_file=str(tmp_path / "master.key"),
        limits_db=str(tmp_path / "limits.sqlite3"),
        redis_url=server.url if server is not None else None,
        alert_webhook_url=None,
    )
    if server is not None:
        await server.stop()


@pytest.fixture
async def admin(gateway):
    client = portkey_ai.AsyncPortkey(api_key=ADMIN_KEY, base_url=str(gateway.make_url("/v1")), max_retries=0)
    yield client
    await client.close()


async def spent(client, slug: str) -> tuple[int, int]:
    usage = await (await client.get(f"/v1/virtual-keys/{slug}/usage", headers=ADMIN)).json()
    [today] = usage["data"]
    return today["requests"], today["input_tokens"] + today["output_tokens"]


async def test_a_token_budget_overshoots_by_at_most_the_requests_in_flight(admin, gateway, client, fake_openai):
    view = gateway.app[STORE_RUNTIME].view
    key, _, slug = await setup(admin, view, fake_openai, vk_limits={"usage_limits": {"token_limit": LIMIT}})
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    # Spend up to just under the budget one answer at a time: 8 × 6 = 48 of 50.
    while (await spent(client, slug))[1] + TOKENS_PER_CALL < LIMIT:
        assert (await post_chat(client, headers))[0] == 200
        await charged(gateway)
    before = (await spent(client, slug))[1]
    assert before == LIMIT - 2
    # IN_FLIGHT requests at once, held by the upstream: each is admitted (2 tokens left),
    # none is charged before all have been.
    fake_openai.hang = asyncio.Event()
    calls = [asyncio.ensure_future(post_chat(client, headers)) for _ in range(IN_FLIGHT)]
    await until(lambda: len(fake_openai.requests) == LIMIT // TOKENS_PER_CALL + IN_FLIGHT)
    fake_openai.hang.set()
    assert [status for status, _ in await asyncio.gather(*calls)] == [200] * IN_FLIGHT
    await charged(gateway)
    requests, total = await spent(client, slug)
    # The documented bound: limit - 1 + in-flight requests × their tokens; reached here
    # but for one token, and nothing lost.
    assert total == before + IN_FLIGHT * TOKENS_PER_CALL <= LIMIT - 1 + IN_FLIGHT * TOKENS_PER_CALL
    assert requests == LIMIT // TOKENS_PER_CALL + IN_FLIGHT
    status, body = await post_chat(client, headers)
    assert status == 412 and body["error"]["code"] == "budget_exhausted"
    assert len(fake_openai.requests) == requests  # the refused request never reached the upstream
