"""From a RouteSpec to an answer: the attempt(s) made upstream.

Today a route has one target and one attempt; strategies (fallback, loadbalance,
conditional, retries) extend this module.
"""

from __future__ import annotations

import time

from aiohttp import web

from ..appkeys import HTTP_SESSION, SETTINGS
from ..config import RouteSpec, Target
from ..errors import GatewayError
from ..middlewares.state import state_of
from ..providers.base import Call, Provider
from ..streaming.relay import relay
from ..upstream import open_upstream, request_deadline


async def answer(request: web.Request, call: Call, route: RouteSpec, provider: Provider) -> web.StreamResponse:
    settings = request.app[SETTINGS]
    state = state_of(request)
    target = route.target
    upstream_request = provider.prepare(call, target)
    if call.stream is not None and call.content_length is not None:
        upstream_request.headers["Content-Length"] = str(call.content_length)
    await provider.authorize(upstream_request, target, request.app)
    timeout_s, timeout_error = request_deadline(target.request_timeout_ms, settings)
    started = time.perf_counter()
    try:
        opened = await open_upstream(
            request.app[HTTP_SESSION], upstream_request, timeout_s=timeout_s, timeout_error=timeout_error
        )
    except GatewayError as exc:
        _record(state, route.option_path, exc.status, started)
        raise
    _record(state, route.option_path, opened.status, started)
    state.option_path = route.option_path
    return await relay(
        request,
        opened,
        extra_headers=response_headers(request, target, route.option_path),
        idle_timeout=settings.idle_timeout,
        translator=provider.translator(call),
        wants_stream=call.wants_stream,
    )


def response_headers(request: web.Request, target: Target, option_path: str) -> dict[str, str]:
    state = state_of(request)
    return {
        "x-portkey-provider": target.provider,
        "x-portkey-trace-id": state.trace_id,
        "x-portkey-last-used-option-index": option_path,
        "x-portkey-retry-attempt-count": str(state.retry_attempts),
        "x-portkey-cache-status": "DISABLED",
    }


def _record(state, option_path: str, status: int, started: float) -> None:
    state.attempts.append(
        {"option": option_path, "status": status, "ms": round((time.perf_counter() - started) * 1000, 2)}
    )
