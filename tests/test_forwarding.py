"""x-portkey-forward-headers passes client headers on, but never cookies, x-portkey-*,
connection headers or credentials: the provider's auth header is the gateway's own."""

from __future__ import annotations

import json

import pytest
from aiohttp import web

from tests.conftest import TEST_KEY
from tests.raw_http import raw_request

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
CLIENT_KEY = "sk-test-client-own-key"

SMUGGLED = {
    "Cookie": "session=secret",
    "Cookie2": "$Version=1",
    "x-api-key": "sk-smuggled",
    "api-key": "sk-smuggled",
    "x-goog-api-key": "smuggled",
    "Proxy-Authorization": "Basic c211Z2dsZWQ=",
    "x-portkey-metadata": '{"a": 1}',
    "x-portkey-trace-id": "trace-1",
    "TE": "trailers",
    "Upgrade": "h2c",
}
LISTED = ", ".join([*SMUGGLED, "authorization", "host", "content-length", "x-portkey-config", "x-portkey-custom-host",
                    "x-portkey-provider", "x-portkey-forward-headers", "x-team"])


async def _echo(client, path: str, config: dict, **headers: str) -> dict:
    response = await client.post(
        path,
        json=CHAT,
        headers={"x-portkey-config": json.dumps(config), "x-portkey-forward-headers": LISTED, "x-team": "search",
                 "Authorization": f"Bearer {CLIENT_KEY}", **SMUGGLED, **headers},
    )
    assert response.status == 200, await response.text()
    return (await response.json())["headers"]


async def test_cookies_credentials_and_portkey_headers_are_never_forwarded(client, fake_openai):
    sent = await _echo(client, "/v1/echo", {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake_openai.url})
    assert sent["x-team"] == "search"  # a listed ordinary header is passed on
    assert sent["authorization"] == f"Bearer {TEST_KEY}"  # the target's key, not the client's
    assert len(fake_openai.last.headers.getall("authorization")) == 1
    for name in SMUGGLED:
        assert name.lower() not in sent, name
    assert not [name for name in sent if name.startswith("x-portkey-")]
    assert fake_openai.last.headers["host"] == fake_openai.url.split("/")[2]


async def test_the_client_key_never_reaches_a_provider_it_was_not_for(client, fake_openai):
    # Two providers and no x-portkey-provider: the client's key is for neither, and the
    # local server chosen needs none. Listing authorization must not carry it there.
    config = {
        "strategy": {"mode": "loadbalance"},
        "targets": [
            {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake_openai.url, "weight": 0},
            {"provider": "ollama", "custom_host": fake_openai.url.removesuffix("/v1") + "/open"},
        ],
    }
    sent = await _echo(client, "/v1/echo", config)
    assert "authorization" not in sent and "x-api-key" not in sent


async def test_anthropic_gets_only_its_own_key_header(client, fake_openai):
    config = {"provider": "anthropic", "api_key": "sk-ant-target", "custom_host": fake_openai.url.removesuffix("/v1") + "/open"}
    sent = await _echo(client, "/v1/messages", config)
    assert sent["x-api-key"] == "sk-ant-target"
    assert len(fake_openai.last.headers.getall("x-api-key")) == 1
    assert "authorization" not in sent  # the client's OpenAI-style key stays home


# One name, and several with spaces between and other case (each is stripped and folded).
@pytest.mark.parametrize("connection", [b"x-hop", b"keep-alive, X-Hop"])
async def test_headers_the_connection_header_names_are_hop_by_hop(gateway, fake_openai, connection):
    headers = {
        "Authorization": f"Bearer {TEST_KEY}".encode(),
        "x-portkey-provider": b"openai",
        "x-portkey-custom-host": fake_openai.url.encode(),
        "x-portkey-forward-headers": b"x-hop, x-team",
        "Connection": connection,
        "x-hop": b"1",
        "x-team": b"search",
    }
    answer = await raw_request(gateway, b"POST", b"/v1/echo", headers, b"{}")
    sent = answer.json()["headers"]
    assert sent["x-team"] == "search" and "x-hop" not in sent


@pytest.mark.parametrize("listed", ["content-type", "Content-Type, content-type", "x-team, X-Team"])
async def test_a_header_listed_twice_is_sent_once(client, fake_openai, auth_headers, listed):
    response = await client.post(
        "/v1/echo", json=CHAT, headers={**auth_headers, "x-portkey-forward-headers": listed, "x-team": "search"}
    )
    assert response.status == 200
    assert len(fake_openai.last.headers.getall("content-type")) == 1
    assert len(fake_openai.last.headers.getall("x-team", [])) == (1 if "x-team" in listed.lower() else 0)


@pytest.fixture
async def recording_upstream(aiohttp_server):
    """An upstream that redirects ``/v1/redirect`` to ``/v1/elsewhere``, sets a cookie on
    every answer, and records each request's path and Cookie header."""
    seen: list[tuple[str, str | None]] = []

    async def answer(request: web.Request) -> web.Response:
        seen.append((request.path, request.headers.get("Cookie")))
        if request.path == "/v1/redirect":
            raise web.HTTPTemporaryRedirect("/v1/elsewhere")
        response = web.json_response({"ok": True})
        response.set_cookie("upstream_session", "for-one-client-only")
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    server = await aiohttp_server(app)
    return f"http://localhost:{server.port}/v1", seen  # a name: cookie jars refuse IP addresses' cookies


async def test_an_upstream_redirect_is_passed_on_never_followed(client, recording_upstream):
    url, seen = recording_upstream
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": url}
    response = await client.post("/v1/redirect", json=CHAT, headers=headers)
    assert response.status == 307
    assert [path for path, _ in seen] == ["/v1/redirect"]  # a redirect could leave the allowed hosts


async def test_a_cookie_an_upstream_sets_is_never_sent_back(client, recording_upstream):
    # One client's session cookie must not ride along with the next client's call.
    url, seen = recording_upstream
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": url}
    for _ in range(2):
        assert (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status == 200
    assert [cookie for _, cookie in seen] == [None, None]
