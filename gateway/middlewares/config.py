"""Third middleware: x-portkey-* headers and x-portkey-config → RouteSpec."""

from __future__ import annotations

from dataclasses import replace

from aiohttp import web

from ..appkeys import SETTINGS
from ..config import build_route
from .state import is_api_request, state_of


@web.middleware
async def config_middleware(request: web.Request, handler):
    if not is_api_request(request):
        return await handler(request)
    state = state_of(request)
    route = build_route(request.headers, request.app[SETTINGS].allowed_custom_hosts)
    if route.target.api_key is None and state.header_api_key is not None:
        route = replace(route, target=replace(route.target, api_key=state.header_api_key))
    state.route = route
    state.provider = route.target.provider
    return await handler(request)
