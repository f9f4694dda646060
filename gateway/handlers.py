"""Route handlers: thin — they shape the call and hand it to routing."""

from __future__ import annotations

from aiohttp import web

from . import __version__
from .appkeys import SETTINGS
from .body import read_body, stream_body
from .middlewares.state import state_of
from .providers.base import Call
from .providers.registry import get_provider
from .routing import answer

API_PREFIX = "/v1/"


async def index(request: web.Request) -> web.Response:
    return web.json_response({"name": "ai-gateway", "version": __version__, "api": API_PREFIX})


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def proxy(request: web.Request) -> web.StreamResponse:
    """Any ``/v1/...`` call: to the route's provider, body streamed unless needed whole."""
    settings = request.app[SETTINGS]
    route = state_of(request).route
    target = route.target
    provider = get_provider(target.provider)
    path = request.raw_path.split("?", 1)[0]
    call = Call(
        method=request.method,
        endpoint=path[len(API_PREFIX) :],
        query_string=request.raw_path.partition("?")[2],
        headers=request.headers,
    )
    needs_body = provider.needs_body(call)
    if needs_body or target.override_params:
        await read_body(
            request,
            call,
            settings.max_body_size,
            require_json=needs_body,
            override_params=target.override_params,
        )
    else:
        stream_body(request, call, settings.max_body_size)
    return await answer(request, call, route, provider)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", index)
    app.router.add_get("/health", health)
    app.router.add_route("*", API_PREFIX + "{tail:.+}", proxy)
