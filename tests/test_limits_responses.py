"""Decisions as 429 / 412 answers, checked with the official openai SDK's retry logic.

The server here is a tiny aiohttp app using the limits' functions, not the gateway (the
wiring comes later). Its clock is virtual: frozen until the first refusal, then running,
so a test waits only as long as the Retry-After it was given.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import openai
import orjson
import pytest
from aiohttp import web

from gateway.limits.counters import Subject
from gateway.limits.decision import Decision
from gateway.limits.embedded import EmbeddedCounters
from gateway.limits.model import parse_limits
from gateway.limits.responses import limit_error, limit_headers

MINUTE_END = datetime(2030, 11, 13, 12, 31, tzinfo=UTC).timestamp()
COMPLETION = {
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": "hi"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


class Clock:
    def __init__(self, frozen_at: float) -> None:
        self.frozen_at = frozen_at
        self.started: float | None = None

    def now(self) -> float:
        return self.frozen_at if self.started is None else self.frozen_at + time.monotonic() - self.started

    def start(self) -> None:
        if self.started is None:
            self.started = time.monotonic()


class LimitedServer:
    """POST /v1/chat/completions admitted or refused by the counters, as the gateway will."""

    def __init__(self, counters, subjects, clock: Clock) -> None:
        self.counters, self.subjects, self.clock = counters, subjects, clock
        self.arrivals: list[float] = []  # virtual time of each request

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def chat(self, request: web.Request) -> web.Response:
        body = await request.json()
        now = self.clock.now()
        self.arrivals.append(now)
        decision = await self.counters.admit(self.subjects, now=now)
        if not decision.allowed:
            self.clock.start()
            return limit_error(decision, model=body["model"]).response()
        return web.json_response(COMPLETION, headers=limit_headers(decision))


@pytest.fixture
async def counters(tmp_path):
    counters = EmbeddedCounters(tmp_path / "limits.sqlite3")
    yield counters
    await counters.close()


@pytest.fixture
async def serve(aiohttp_server):
    clients = []

    async def serve(counters, limits, frozen_at: float, max_retries: int):
        server = LimitedServer(counters, [Subject("key-1", limits)], Clock(frozen_at))
        http = await aiohttp_server(server.app())
        client = openai.AsyncOpenAI(base_url=str(http.make_url("/v1")), api_key="sk-client", max_retries=max_retries)
        clients.append(client)
        return server, client

    yield serve
    for client in clients:
        await client.close()


async def ask(client):
    return await client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])


@pytest.mark.timeout(30)
async def test_the_sdk_waits_out_the_window_as_the_headers_say_then_succeeds(counters, serve):
    limits = parse_limits([{"type": "requests", "unit": "rpm", "value": 1}])
    server, client = await serve(counters, limits, MINUTE_END - 1.5, max_retries=1)
    assert (await ask(client)).choices[0].message.content == "hi"
    # Refused with retry-after-ms: 1500. The SDK's own backoff (0.5 s × 2^n, less jitter)
    # would come back within the window and be refused again, with no retry left.
    assert (await ask(client)).choices[0].message.content == "hi"
    assert len(server.arrivals) == 3
    assert server.arrivals[2] >= MINUTE_END


async def test_a_refusal_for_hours_is_not_retried(counters, serve):
    limits = parse_limits([{"type": "requests", "unit": "rpd", "value": 1}])
    noon = datetime(2030, 11, 13, 12, 0, tzinfo=UTC).timestamp()
    server, client = await serve(counters, limits, noon, max_retries=3)
    await ask(client)
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(client)
    response = caught.value.response
    assert response.headers["retry-after"] == str(12 * 3600)
    assert response.headers["x-ratelimit-limit-requests"] == "1"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "12h0m0s"
    body = orjson.loads(response.content)
    assert body["error"]["code"] == "rate_limit_exceeded" and body["status"] == "failure"
    assert body["error"]["message"] == "Rate limit reached: 1 requests per day. Try again in 12h0m0s."
    assert len(server.arrivals) == 2  # longer than the SDK's 2-minute cap: it gave up at once


async def test_a_client_refused_by_two_spent_windows_is_told_to_wait_for_the_later(counters, serve):
    # rpm and rpd both spent: "retry in 1.5 s" would only earn another 429 (from the rpd).
    limits = parse_limits([{"type": "requests", "unit": "rpm", "value": 1}, {"type": "requests", "unit": "rpd", "value": 1}])
    server, client = await serve(counters, limits, MINUTE_END - 1.5, max_retries=2)
    await ask(client)
    with pytest.raises(openai.RateLimitError) as caught:
        await ask(client)
    headers = caught.value.response.headers
    assert headers["retry-after"] == "41342" and headers["x-ratelimit-reset-requests"] == "11h29m1.5s"
    assert len(server.arrivals) == 2  # hours away: the SDK gives up at once, as it should


async def test_an_exhausted_budget_is_412_and_never_retried(counters, serve):
    limits = parse_limits(None, {"credit_limit": 1, "periodic_reset": "monthly"})
    await counters.charge_usage([Subject("key-1", limits)], _Usage(), Decimal("1.25"), now=MINUTE_END - 5)
    server, client = await serve(counters, limits, MINUTE_END - 5, max_retries=3)
    with pytest.raises(openai.APIStatusError) as caught:
        await ask(client)
    assert caught.value.status_code == 412
    assert caught.value.response.headers["x-should-retry"] == "false"  # no SDK retries it
    body = orjson.loads(caught.value.response.content)
    assert body["error"] == {
        "message": "Budget exhausted: 1 USD per month (1.25 USD spent); it resets at 2030-12-01T00:00:00Z, "
        "or when an admin raises the limit.",
        "type": "budget_exceeded_error", "param": None, "code": "budget_exhausted",
    }
    assert len(server.arrivals) == 1


async def test_admitted_answers_carry_the_remaining_headers(counters, serve):
    limits = parse_limits([{"type": "requests", "unit": "rpm", "value": 5}, {"type": "tokens", "unit": "rpm", "value": 900}])
    _, client = await serve(counters, limits, MINUTE_END - 20.5, max_retries=0)
    raw = await client.chat.completions.with_raw_response.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert {name: value for name, value in raw.headers.items() if name.startswith("x-ratelimit")} == {
        "x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "4", "x-ratelimit-reset-requests": "20.5s",
        "x-ratelimit-limit-tokens": "900", "x-ratelimit-remaining-tokens": "900", "x-ratelimit-reset-tokens": "20.5s",
    }


def test_unpriced_models_and_unreachable_counters_have_their_own_errors():
    unpriced = limit_error(Decision(allowed=False, now=0.0, unpriced_model=True), model="gpt-99")
    assert (unpriced.status, unpriced.code, unpriced.param) == (400, "model_price_unknown", "model")
    assert unpriced.message.startswith("The model gpt-99 has no price, and this key has a credit limit")
    unavailable = limit_error(Decision(allowed=False, now=0.0, unavailable=True))
    assert (unavailable.status, unavailable.code, unavailable.headers) == (503, "limits_unavailable", {"Retry-After": "1"})
    assert limit_headers(Decision(allowed=True, now=0.0)) == {}


class _Usage:
    input, output, cache_read, cache_write, reasoning = 100, 10, 0, 0, 0
