"""Third middleware: x-portkey-* headers and x-portkey-config → RouteSpec.

The whole routing tree is checked here, before the handler reads a byte of the body
or calls any upstream; provider names are checked against the registry.
"""

from __future__ import annotations

import functools

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ..config import RouteSpec, build_route
from ..custom_host import HostAllowList
from ..providers.registry import PROVIDERS
from ..settings import SETTINGS
from .state import is_api_request, state_of

# Per-request headers that are not routing: leaving them out of the cache key keeps
# one cached route for all of a client's calls.
_NOT_ROUTING = frozenset({"x-portkey-trace-id", "x-portkey-api-key"})


@web.middleware
async def config_middleware(request: web.Request, handler):
    if not is_api_request(request):
        return await handler(request)
    state = state_of(request)
    routing_headers = tuple(
        (name.lower(), value)
        for name, value in request.headers.items()
        if name[:10].lower() == "x-portkey-" and name.lower() not in _NOT_ROUTING
    )
    route = _route(routing_headers, request.app[SETTINGS].allowed_custom_hosts, state.header_api_key)
    state.route = route
    state.provider = route.target.provider
    return await handler(request)


# A client sends the same routing headers on every call, and a route is frozen: one
# parsed, validated route serves them all (building it was ~15 us of the gateway's
# ~250 us per request). Only x-portkey-* headers and the client's key are read to
# build a route; a bad config raises, and is never cached.
@functools.lru_cache(maxsize=512)
def _route(routing_headers: tuple[tuple[str, str], ...], allow: HostAllowList, api_key: str | None) -> RouteSpec:
    headers = CIMultiDictProxy(CIMultiDict(routing_headers))
    return build_route(headers, allow, providers=PROVIDERS, api_key=api_key)
