"""Routes are cached per routing headers and client key: never one client's for another.

Each test counts how often a route is really built (``build_route`` behind the
``functools.lru_cache`` of ``gateway.middlewares.config._route``), so that a cache
that is gone, or keyed on a header that changes on every call, fails here. A unique
``x-portkey-metadata`` value keeps each test's routes apart from earlier tests'.
"""

from __future__ import annotations

import uuid

import orjson
import pytest

from gateway.middlewares import config as config_middleware
from tests.conftest import TEST_KEY

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def builds(monkeypatch) -> list[dict[str, str]]:
    """The routing headers of every route actually built (not served from the cache)."""
    built: list[dict[str, str]] = []
    real = config_middleware.build_route

    def counting(headers, *args, **kwargs):
        built.append(dict(headers))
        return real(headers, *args, **kwargs)

    monkeypatch.setattr(config_middleware, "build_route", counting)
    return built


@pytest.fixture
def unique() -> dict[str, str]:
    return {"x-portkey-metadata": orjson.dumps({"test_run": uuid.uuid4().hex}).decode()}


async def test_same_routing_headers_other_key_gets_its_own_key_upstream(client, fake_openai, openai_headers, builds, unique):
    for key in (TEST_KEY + "-alice", TEST_KEY + "-bob", TEST_KEY + "-alice", TEST_KEY + "-bob"):
        headers = {**openai_headers, **unique, "Authorization": f"Bearer {key}"}
        response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
        assert response.status == 200
        assert fake_openai.last.headers["Authorization"] == f"Bearer {key}"
    assert len(builds) == 2  # one route per key; their second calls were served from the cache


async def test_other_config_gets_its_own_route(client, fake_openai, aiohttp_server, builds, unique):
    from tests.fakes.openai import FakeOpenAI

    other = FakeOpenAI()
    other_server = await aiohttp_server(other.app())
    for fake, url in ((fake_openai, fake_openai.url), (other, str(other_server.make_url("/v1"))), (fake_openai, fake_openai.url)):
        config = orjson.dumps({"provider": "openai", "api_key": TEST_KEY, "custom_host": url}).decode()
        before = len(fake.requests)
        response = await client.post("/v1/chat/completions", json=BODY, headers={"x-portkey-config": config, **unique})
        assert response.status == 200
        assert len(fake.requests) == before + 1
    assert len(builds) == 2  # the first config's route was built once and used twice


async def test_a_bad_config_is_refused_every_time_and_never_cached(client, fake_openai, openai_headers, builds, unique):
    for _ in range(2):
        response = await client.post("/v1/chat/completions", json=BODY, headers={"x-portkey-config": '{"provider": 7}', **unique})
        assert response.status == 400
    assert len(builds) == 2  # a refused config is built (and refused) again each time
    good = {**openai_headers, **unique, "Authorization": f"Bearer {TEST_KEY}"}
    for _ in range(2):
        assert (await client.post("/v1/chat/completions", json=BODY, headers=good)).status == 200
    assert len(builds) == 3  # while a good one is built once


async def test_trace_ids_are_not_part_of_the_cache_key(client, fake_openai, openai_headers, builds, unique):
    for trace in ("trace-a", "trace-b", "trace-c"):
        response = await client.post(
            "/v1/chat/completions",
            json=BODY,
            headers={**openai_headers, **unique, "Authorization": f"Bearer {TEST_KEY}", "x-portkey-trace-id": trace},
        )
        assert response.status == 200
        # The route is shared, the trace id is the request's own.
        assert response.headers["x-portkey-trace-id"] == trace
    assert len(builds) == 1
    assert not any("x-portkey-trace-id" in headers for headers in builds)
