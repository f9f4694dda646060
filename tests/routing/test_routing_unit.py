"""Routing alone, without sockets: strategies, retry and fallback over test-double answers.

The transport is a script of :class:`BytesAnswer` s (or errors), one per upstream call;
each test reads which targets were called, what was answered, and that every answer
not chosen was closed.
"""

from __future__ import annotations

from collections import Counter
from random import Random

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.answer import BytesAnswer
from gateway.config import build_route
from gateway.custom_host import HostAllowList
from gateway.errors import GatewayError, UpstreamUnreachable
from gateway.providers.base import Call, UpstreamRequest
from gateway.providers.registry import PROVIDERS
from gateway.routing.attempt import RouteContext
from gateway.routing.strategies import run
from gateway.routing.tools import RoutingTools
from gateway.settings import SETTINGS, Settings

pytestmark = pytest.mark.unit

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]}
JSON = {"Content-Type": "application/json"}


def ok(text: str = "hello") -> BytesAnswer:
    return BytesAnswer(200, JSON, [orjson.dumps({"choices": [{"message": {"content": text}}]})])


def failed(status: int, headers: dict[str, str] | None = None) -> BytesAnswer:
    return BytesAnswer(status, {**JSON, **(headers or {})}, [b'{"error": {"message": "no"}}'])


class ScriptedTransport:
    """Answers each upstream call with the next item of ``script`` (an error is raised)."""

    def __init__(self, script: list[BytesAnswer | GatewayError]) -> None:
        self.script = list(script)
        self.given: list[BytesAnswer] = []
        self.hosts: list[str] = []

    async def open(self, request: UpstreamRequest, *, timeout_s: float, timeout_error) -> BytesAnswer:
        self.hosts.append(request.url.host)
        item = self.script.pop(0)
        if isinstance(item, GatewayError):
            raise item
        self.given.append(item)
        return item


def target(host: str, **fields) -> dict:
    return {"provider": "openai", "api_key": "sk-test", "custom_host": f"http://{host}/v1", **fields}


def context(config: dict, transport, *, random=None, sleeps: list[float] | None = None) -> RouteContext:
    headers = CIMultiDictProxy(CIMultiDict({"x-portkey-config": orjson.dumps(config).decode()}))
    route = build_route(headers, HostAllowList.parse("*"), providers=PROVIDERS)
    app = web.Application()
    app[SETTINGS] = Settings()
    request = make_mocked_request("POST", "/v1/chat/completions", headers=headers, app=app)

    async def sleep(seconds: float) -> None:
        if sleeps is not None:
            sleeps.append(seconds)

    body = orjson.dumps(CHAT)
    call = Call("POST", "chat/completions", "", headers, body=body, json=dict(CHAT))
    tools = RoutingTools(random=random or Random(1).random, sleep=sleep, now=lambda: 0.0)
    return RouteContext(request, call, route, tools, transport)


async def route(config: dict, transport, **options):
    """The Outcome the strategies return for ``config``."""
    ctx = context(config, transport, **options)
    return await run(ctx, ctx.route.root)


async def test_fallback_moves_on_and_closes_the_answer_it_leaves():
    first, second = failed(503), ok()
    transport = ScriptedTransport([first, second])
    config = {"strategy": {"mode": "fallback"}, "targets": [target("a.test"), target("b.test")]}
    ctx = context(config, transport)
    outcome = await run(ctx, ctx.route.root)
    assert transport.hosts == ["a.test", "b.test"]
    assert outcome.ok and outcome.answer is second and outcome.leaf.path == "config.targets[1]"
    assert first.closed and not second.closed  # the chosen one is its caller's to close
    # What happened is returned as records, not written into the request's state.
    assert [(r.target, r.status, r.then, r.model) for r in ctx.routed.attempts] == [
        ("config.targets[0]", 503, "fallback", "gpt-4o-mini"),
        ("config.targets[1]", 200, None, "gpt-4o-mini"),
    ]


async def test_fallback_only_on_the_listed_statuses():
    transport = ScriptedTransport([failed(503), ok()])
    config = {"strategy": {"mode": "fallback", "on_status_codes": [429]}, "targets": [target("a.test"), target("b.test")]}
    outcome = await route(config, transport)
    assert transport.hosts == ["a.test"]
    assert outcome.status == 503 and not transport.given[0].closed


async def test_retry_until_success_closing_each_failed_answer():
    answers = [failed(503), failed(502), ok()]
    sleeps: list[float] = []
    transport = ScriptedTransport(answers)
    config = target("a.test", retry={"attempts": 3})
    outcome = await route(config, transport, sleeps=sleeps)
    assert outcome.ok and outcome.retries == 2 and not outcome.retries_exhausted
    assert [answer.closed for answer in answers] == [True, True, False]
    assert len(sleeps) == 2


async def test_retries_used_up_say_so_without_a_sentinel():
    transport = ScriptedTransport([failed(503), failed(503), failed(503)])
    config = target("a.test", retry={"attempts": 2})
    outcome = await route(config, transport)
    assert outcome.status == 503
    assert (outcome.retries, outcome.retries_exhausted) == (2, True)


async def test_an_unreachable_upstream_is_retried():
    # Whatever the retry statuses: 502 is not among them here.
    transport = ScriptedTransport([UpstreamUnreachable("could not connect"), ok()])
    config = target("a.test", retry={"attempts": 1, "on_status_codes": [429]})
    outcome = await route(config, transport)
    assert outcome.ok and outcome.retries == 1


async def test_retry_after_from_the_answers_headers():
    sleeps: list[float] = []
    transport = ScriptedTransport([failed(429, {"retry-after-ms": "1500"}), ok()])
    config = target("a.test", retry={"attempts": 1, "use_retry_after_header": True})
    await route(config, transport, sleeps=sleeps)
    assert sleeps == [1.5]


async def test_loadbalance_follows_the_configured_weights():
    # 4000 picks with weights 3:1:0. Expected share of a: 0.75 (sd 0.0068 at n=4000):
    # the bounds are 4.4 sd wide, and a weight of 0 is never picked.
    config = {
        "strategy": {"mode": "loadbalance"},
        "targets": [target("a.test", weight=3), target("b.test", weight=1), target("c.test", weight=0)],
    }
    random = Random(7).random
    transport = ScriptedTransport([ok() for _ in range(4000)])
    ctx = context(config, transport, random=random)
    for _ in range(4000):
        await run(ctx, ctx.route.root)
    counts = Counter(transport.hosts)
    assert 0.72 <= counts["a.test"] / 4000 <= 0.78
    assert counts["c.test"] == 0


async def test_a_translated_stream_that_fails_at_once_falls_back():
    # Anthropic's stream opens with an error event: judged before any commit.
    error_event = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "busy"}}\n\n'
    broken = BytesAnswer(200, {"Content-Type": "text/event-stream"}, [error_event])
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "anthropic", "api_key": "sk-ant", "custom_host": "http://claude.test/v1"},
            target("b.test"),
        ],
    }
    transport = ScriptedTransport([broken, ok()])
    ctx = context(config, transport)
    ctx.call.json["stream"] = True
    outcome = await run(ctx, ctx.route.root)
    assert transport.hosts == ["claude.test", "b.test"]
    assert broken.closed and outcome.ok


async def test_bytes_answer_reads_iterates_and_aborts():
    answer = BytesAnswer(200, JSON, [b"a", b"b"])
    assert answer.content_type == "application/json" and not answer.ended
    assert [chunk async for chunk in answer] == [b"a", b"b"]
    assert answer.ended and await answer.read() == b""
    broken = BytesAnswer(200, (), [b"a", b"b"])
    broken.abort(UpstreamUnreachable("gone"))
    with pytest.raises(UpstreamUnreachable):
        await broken.read()
    async with broken:
        pass
    assert broken.closed
