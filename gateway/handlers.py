"""Route handlers: thin — they shape the call and hand it to routing."""

from __future__ import annotations

import os

from aiohttp import web

from . import __version__
from .admin import add_admin_routes
from .body import read_body, stream_body
from .errors import GatewayShutdown
from .middlewares.context import answer_starting
from .middlewares.drain import IN_FLIGHT
from .middlewares.state import state_of
from .middlewares.stored_routes import BODY_READ, request_metadata, store_readiness
from .providers.base import Call
from .providers.registry import get_provider
from .request_path import API_PREFIX, split_target
from .routing import answer
from .settings import SETTINGS
from .streaming.usage_filter import ask_for_stream_usage

# The methods provider APIs use; any other on /v1/ is a 405 with an Allow header.
# HEAD and OPTIONS too: no provider API answers them, and the gateway has no CORS.
API_METHODS = ("GET", "POST", "DELETE")


async def index(request: web.Request) -> web.Response:
    return web.json_response({"name": "ai-gateway", "version": __version__, "api": API_PREFIX})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def ready(request: web.Request) -> web.Response:
    """Readiness: 503 while this worker drains, so a load balancer stops sending."""
    if request.app[IN_FLIGHT].draining:
        return GatewayShutdown("this gateway worker is draining", code="draining").response()
    answer = {"status": "ready", "pid": os.getpid()}  # which worker answered
    answer.update(store_readiness(request.app))
    return web.json_response(answer)


async def proxy(request: web.Request) -> web.StreamResponse:
    """Any ``/v1/...`` call: routed by its RouteSpec, body streamed unless needed whole."""
    app = request.app
    settings = app[SETTINGS]
    state = state_of(request)
    route = state.route
    endpoint, query_string = split_target(request.raw_path)
    call = Call(method=request.method, endpoint=endpoint, query_string=query_string, headers=request.headers)
    # The body is read whole (once) when a provider must read it (to translate or sign
    # it), when the route must (RouteSpec.reads_body), or the keys' checks read it.
    needs_json = False
    for name in route.provider_names:
        if get_provider(name).needs_body(call):
            needs_json = True
            break
    if needs_json or route.reads_body or request.get(BODY_READ, False):  # BODY_READ: middlewares/stored_routes.py
        await read_body(request, call, settings.max_body_size, require_json=needs_json)
        ask_for_stream_usage(request, call, route)  # limits need a stream's usage
    else:
        stream_body(request, call, settings.max_body_size)
    return await answer(
        request, call, route, state.trace_id, app[IN_FLIGHT], span=state.span, metadata_of=request_metadata,
        starting=answer_starting,  # a stream's headers: overhead, limits (the context middleware's)
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_get("/ready", ready)
    add_admin_routes(app)  # before the /v1/{tail} proxy route
    for method in API_METHODS:
        # [\s\S], not ".": a path holding %0a (a newline once decoded) reaches
        # split_target's 400 invalid_path rather than a misleading 404.
        app.router.add_route(method, API_PREFIX + r"{tail:[\s\S]+}", proxy)
