"""Routes are cached per routing headers and client key: never one client's for another."""

from __future__ import annotations

import orjson

from tests.conftest import TEST_KEY

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


async def test_same_routing_headers_other_key_gets_its_own_key_upstream(client, fake_openai, openai_headers):
    for key in (TEST_KEY + "-alice", TEST_KEY + "-bob", TEST_KEY + "-alice"):
        response = await client.post("/v1/chat/completions", json=BODY, headers={**openai_headers, "Authorization": f"Bearer {key}"})
        assert response.status == 200
        assert fake_openai.last.headers["Authorization"] == f"Bearer {key}"


async def test_other_config_gets_its_own_route(client, fake_openai, aiohttp_server):
    from tests.fakes.openai import FakeOpenAI

    other = FakeOpenAI()
    other_server = await aiohttp_server(other.app())
    for fake, url in ((fake_openai, fake_openai.url), (other, str(other_server.make_url("/v1"))), (fake_openai, fake_openai.url)):
        config = orjson.dumps({"provider": "openai", "api_key": TEST_KEY, "custom_host": url}).decode()
        before = len(fake.requests)
        response = await client.post("/v1/chat/completions", json=BODY, headers={"x-portkey-config": config})
        assert response.status == 200
        assert len(fake.requests) == before + 1


async def test_a_bad_config_is_refused_every_time(client):
    for _ in range(2):
        response = await client.post("/v1/chat/completions", json=BODY, headers={"x-portkey-config": '{"provider": 7}'})
        assert response.status == 400


async def test_trace_ids_do_not_split_or_leak_through_the_cache(client, fake_openai, openai_headers):
    for trace in ("trace-a", "trace-b"):
        response = await client.post(
            "/v1/chat/completions",
            json=BODY,
            headers={**openai_headers, "Authorization": f"Bearer {TEST_KEY}", "x-portkey-trace-id": trace},
        )
        assert response.headers["x-portkey-trace-id"] == trace
