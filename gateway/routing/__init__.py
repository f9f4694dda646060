"""From a RouteSpec to an answer: the attempts made upstream, then the relay.

Retries and fallbacks all happen before the client sees a byte (``strategies.run``
returns one Outcome, every other attempt already discarded); then the answer is
relayed, and its status is fixed. A failure after that point ends the stream with an
error event (``streaming.relay``), and the access line says so.
"""

from __future__ import annotations

from aiohttp import web

from ..config import RouteSpec
from ..middlewares.state import state_of
from ..providers.base import Call
from ..settings import SETTINGS
from ..streaming.relay import relay
from .attempt import Outcome, RouteContext, idle_timeout
from .strategies import run
from .tools import ROUTING_TOOLS, RoutingTools, tools_of

__all__ = ["ROUTING_TOOLS", "RoutingTools", "answer"]


async def answer(request: web.Request, call: Call, route: RouteSpec) -> web.StreamResponse:
    ctx = RouteContext(request, call, route, tools_of(request.app))
    outcome = await run(ctx, route.root)
    state = state_of(request)
    state.option_path = outcome.leaf.path
    state.provider = outcome.leaf.target.provider
    state.retry_attempts = outcome.retries
    headers = response_headers(request, outcome)
    if outcome.error is not None:
        outcome.error.headers.update(headers)
        raise outcome.error
    return await relay(
        request,
        outcome.opened,
        extra_headers=headers,
        idle_timeout=idle_timeout(outcome.leaf.target, request.app[SETTINGS]),
        translator=outcome.translator,
        wants_stream=outcome.call.wants_stream,
        stream_translator=outcome.stream_translator,
        first_out=outcome.first_out,
    )


def response_headers(request: web.Request, outcome: Outcome) -> dict[str, str]:
    state = state_of(request)
    return {
        "x-portkey-provider": outcome.leaf.target.provider,
        "x-portkey-trace-id": state.trace_id,
        "x-portkey-last-used-option-index": outcome.leaf.path,
        "x-portkey-retry-attempt-count": str(outcome.retries),
        "x-portkey-cache-status": "DISABLED",
    }
