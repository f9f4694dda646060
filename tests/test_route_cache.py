"""Routes are cached per app, by routing headers and client key: never one client's for
another, never keyed on what differs per request, bounded by ``--route-cache-size``.

Each test counts how often a route is really built (``build_route`` behind the app's
``RouteCache``), so that a cache that is gone, shared between apps, or keyed on a header
that changes on every call fails here.
"""

from __future__ import annotations

import orjson
import pytest

from gateway.custom_host import CUSTOM_HOSTS
from gateway.middlewares import config as config_middleware
from gateway.middlewares.config import ROUTES
from gateway.settings import Settings
from tests.conftest import TEST_KEY, GatewayTestServer

BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
def builds(monkeypatch) -> list[dict[str, str]]:
    """The routing headers of every route actually built (not served from a cache)."""
    built: list[dict[str, str]] = []
    real = config_middleware.build_route

    def counting(headers, *args, **kwargs):
        built.append(dict(headers))
        return real(headers, *args, **kwargs)

    monkeypatch.setattr(config_middleware, "build_route", counting)
    return built


async def test_same_routing_headers_other_key_gets_its_own_key_upstream(client, fake_openai, openai_headers, builds):
    for key in (TEST_KEY + "-alice", TEST_KEY + "-bob", TEST_KEY + "-alice", TEST_KEY + "-bob"):
        headers = {**openai_headers, "Authorization": f"Bearer {key}"}
        response = await client.post("/v1/chat/completions", json=BODY, headers=headers)
        assert response.status == 200
        assert fake_openai.last.headers["Authorization"] == f"Bearer {key}"
    assert len(builds) == 2  # one route per key; their second calls were served from the cache


async def test_other_config_gets_its_own_route(client, fake_openai, make_fake, builds):
    other = await make_fake()
    for fake in (fake_openai, other, fake_openai):
        config = orjson.dumps({"provider": "openai", "api_key": TEST_KEY, "custom_host": fake.url}).decode()
        before = len(fake.requests)
        response = await client.post("/v1/chat/completions", json=BODY, headers={"x-portkey-config": config})
        assert response.status == 200
        assert len(fake.requests) == before + 1
    assert len(builds) == 2  # the first config's route was built once and used twice


async def test_a_bad_config_is_refused_every_time_and_never_cached(client, fake_openai, openai_headers, builds):
    for _ in range(2):
        response = await client.post("/v1/chat/completions", json=BODY, headers={"x-portkey-config": '{"provider": 7}'})
        assert response.status == 400
    assert len(builds) == 2  # a refused config is built (and refused) again each time
    good = {**openai_headers, "Authorization": f"Bearer {TEST_KEY}"}
    for _ in range(2):
        assert (await client.post("/v1/chat/completions", json=BODY, headers=good)).status == 200
    assert len(builds) == 3  # while a good one is built once


async def test_trace_ids_are_not_part_of_the_cache_key(client, fake_openai, openai_headers, builds):
    for trace in ("trace-a", "trace-b", "trace-c"):
        response = await client.post(
            "/v1/chat/completions",
            json=BODY,
            headers={**openai_headers, "Authorization": f"Bearer {TEST_KEY}", "x-portkey-trace-id": trace},
        )
        assert response.status == 200
        # The route is shared, the trace id is the request's own.
        assert response.headers["x-portkey-trace-id"] == trace
    assert len(builds) == 1
    assert not any("x-portkey-trace-id" in headers for headers in builds)


async def test_metadata_that_differs_per_request_builds_one_route(client, fake_openai, openai_headers, builds):
    for user in ("u1", "u2", "u3", "u4"):
        metadata = orjson.dumps({"user": user, "request": f"r-{user}"}).decode()
        headers = {**openai_headers, "Authorization": f"Bearer {TEST_KEY}", "x-portkey-metadata": metadata}
        assert (await client.post("/v1/chat/completions", json=BODY, headers=headers)).status == 200
    assert len(builds) == 1
    assert not any("x-portkey-metadata" in headers for headers in builds)


async def test_bad_metadata_is_refused_on_a_cached_route(client, fake_openai, openai_headers, builds):
    headers = {**openai_headers, "Authorization": f"Bearer {TEST_KEY}"}
    assert (await client.post("/v1/chat/completions", json=BODY, headers=headers)).status == 200
    response = await client.post("/v1/chat/completions", json=BODY, headers={**headers, "x-portkey-metadata": "[1]"})
    assert response.status == 400
    assert (await response.json())["error"]["param"] == "x-portkey-metadata"
    assert len(builds) == 1 and len(fake_openai.requests) == 1


async def test_conditional_routing_reads_each_requests_metadata_with_one_cached_route(client, make_fake, builds):
    pro, free = await make_fake(), await make_fake()
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.plan": "pro"}, "then": "pro"}],
            "default": "free",
        },
        "targets": [
            {"name": "pro", "provider": "openai", "api_key": TEST_KEY, "custom_host": pro.url},
            {"name": "free", "provider": "openai", "api_key": TEST_KEY, "custom_host": free.url},
        ],
    }
    headers = {"x-portkey-config": orjson.dumps(config).decode()}
    for plan in ("pro", "free", "pro", "free", None, "pro"):
        metadata = {"x-portkey-metadata": orjson.dumps({"plan": plan, "user": "u"}).decode()} if plan else {}
        response = await client.post("/v1/chat/completions", json=BODY, headers={**headers, **metadata})
        assert response.status == 200
        expected = "config.targets[0]" if plan == "pro" else "config.targets[1]"
        assert response.headers["x-portkey-last-used-option-index"] == expected
    assert (len(pro.requests), len(free.requests)) == (3, 3)
    assert len(builds) == 1


async def test_two_apps_do_not_share_a_route_cache(aiohttp_client, fake_openai, openai_headers, builds):
    async with GatewayTestServer(Settings()) as first, GatewayTestServer(Settings()) as second:
        assert first.app[ROUTES] is not second.app[ROUTES]
        assert first.app[CUSTOM_HOSTS] is not second.app[CUSTOM_HOSTS]
        clients = [await aiohttp_client(first), await aiohttp_client(second)]
        headers = {**openai_headers, "Authorization": f"Bearer {TEST_KEY}"}
        for client in clients + clients:
            assert (await client.post("/v1/chat/completions", json=BODY, headers=headers)).status == 200
    assert len(builds) == 2  # each app built the route once, for itself


@pytest.mark.parametrize("settings", [Settings(route_cache_size=2)])
async def test_the_cache_size_setting_bounds_the_routes_kept(gateway, client, fake_openai, openai_headers, builds):
    async def call(key: str) -> None:
        headers = {**openai_headers, "Authorization": f"Bearer {TEST_KEY}-{key}"}
        assert (await client.post("/v1/chat/completions", json=BODY, headers=headers)).status == 200

    for key in ("a", "b", "c"):
        await call(key)
    assert gateway.app[ROUTES].get.cache_info().currsize == 2
    await call("c")  # among the two most recent: kept
    assert len(builds) == 3
    await call("a")  # the least recently used: gone, built again
    assert len(builds) == 4


@pytest.mark.parametrize("settings", [Settings(route_cache_size=0)])
async def test_a_cache_size_of_zero_builds_every_route(client, fake_openai, openai_headers, builds):
    headers = {**openai_headers, "Authorization": f"Bearer {TEST_KEY}"}
    for _ in range(3):
        assert (await client.post("/v1/chat/completions", json=BODY, headers=headers)).status == 200
    assert len(builds) == 3
