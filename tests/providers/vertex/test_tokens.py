"""The token cache's schedule, with a scripted fetch (no network, no real waiting)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway.errors import GatewayError
from gateway.providers.vertex import tokens as tokens_module
from gateway.providers.vertex.credentials import ServiceAccount
from gateway.providers.vertex.tokens import TokenSource, VertexTokens

GOOGLE_TOKEN = "https://oauth2.googleapis.com/token"


class ScriptedFetch:
    """A fetch for a worker thread: counts calls, may block or fail."""

    def __init__(self, lifetime: float = 3600.0) -> None:
        self.calls = 0
        self.lifetime = lifetime
        self.release = threading.Event()
        self.release.set()
        self.fail = False
        self.on_call = lambda: None

    def __call__(self) -> tuple[str, float]:
        self.calls += 1
        self.on_call()
        self.release.wait(10)
        if self.fail:
            raise GatewayError("refused", status=401, code="vertex_token_refused")
        return f"token-{self.calls}", self.lifetime


def source(fetch: ScriptedFetch, pool: VertexTokens | None = None) -> TokenSource:
    pool = pool if pool is not None else VertexTokens()
    return TokenSource(fetch, pool, "key")


async def test_concurrent_first_calls_share_one_fetch():
    fetch = ScriptedFetch()
    fetch.release.clear()
    tokens = source(fetch)
    waiting = [asyncio.ensure_future(tokens.token()) for _ in range(5)]
    await asyncio.sleep(0)  # one loop turn: each caller reaches its wait
    fetch.release.set()
    assert await asyncio.gather(*waiting) == ["token-1"] * 5
    assert fetch.calls == 1
    tokens.close()


async def test_refreshed_ahead_of_expiry_in_the_background():
    fetch = ScriptedFetch()
    pool = VertexTokens()
    pool.refresh_ahead_s, pool.min_refresh_interval_s = 3600.0 - 0.05, 0.0
    tokens = source(fetch, pool)
    assert await tokens.token() == "token-1"
    fetch.release.clear()  # the background fetch will hang until released
    loop, started = asyncio.get_running_loop(), asyncio.Event()
    fetch.on_call = lambda: loop.call_soon_threadsafe(started.set)
    await asyncio.wait_for(started.wait(), 5)
    assert await tokens.token() == "token-1"  # served at once, from the cache
    fetch.release.set()
    await tokens._pending
    assert await tokens.token() == "token-2"
    tokens.close()


async def test_unused_identity_is_forgotten_not_refreshed():
    fetch = ScriptedFetch()
    pool = VertexTokens()
    pool.refresh_ahead_s, pool.min_refresh_interval_s = 3600.0 - 0.05, 0.0
    pool._sources["key"] = tokens = source(fetch, pool)
    await tokens.token()
    tokens._used_since_fetch = False  # nobody used the token since it was fetched
    forgotten = asyncio.get_running_loop().create_future()
    pool.forget = lambda key: forgotten.set_result(key)
    assert await asyncio.wait_for(forgotten, 5) == "key"
    assert fetch.calls == 1
    tokens.close()


async def test_a_failed_first_fetch_reaches_the_caller_and_is_retried_by_the_next():
    fetch = ScriptedFetch()
    fetch.fail = True
    tokens = source(fetch)
    with pytest.raises(GatewayError) as caught:
        await tokens.token()
    assert caught.value.status == 401
    fetch.fail = False
    assert await tokens.token() == "token-2"
    tokens.close()


async def test_identities_are_capped(monkeypatch):
    monkeypatch.setattr(tokens_module, "MAX_IDENTITIES", 2)
    pool = VertexTokens()
    monkeypatch.setattr(pool, "_service_account_fetch", lambda info: ScriptedFetch())
    accounts = [ServiceAccount({"token_uri": GOOGLE_TOKEN}, fingerprint=name) for name in "abc"]
    for account in accounts:
        assert await pool.token(account) == "token-1"
    assert list(pool._sources) == ["b", "c"]  # the least recently used went first
    pool.close()
    assert len(pool) == 0


async def test_an_unreachable_token_endpoint_is_a_502(rsa_key, unused_tcp_port):
    from tests.providers.vertex.conftest import service_account_json

    uri = f"http://127.0.0.1:{unused_tcp_port}/token"  # nothing listens there
    pool = VertexTokens()
    pool.token_uris.add(uri)
    info = service_account_json(rsa_key, uri)
    with pytest.raises(GatewayError) as caught:
        await asyncio.wait_for(pool.token(ServiceAccount(info, fingerprint="x")), 30)
    assert (caught.value.status, caught.value.code) == (502, "vertex_token_unavailable")
    pool.close()
