"""Third middleware: x-portkey-* headers and x-portkey-config → RouteSpec.

The whole routing tree is checked here, before the handler reads a byte of the body
or calls any upstream; provider names are checked against the registry.
"""

from __future__ import annotations

from aiohttp import web

from ..appkeys import SETTINGS
from ..config import build_route
from ..providers.registry import PROVIDERS
from .state import is_api_request, state_of


@web.middleware
async def config_middleware(request: web.Request, handler):
    if not is_api_request(request):
        return await handler(request)
    state = state_of(request)
    route = build_route(
        request.headers,
        request.app[SETTINGS].allowed_custom_hosts,
        providers=PROVIDERS,
        api_key=state.header_api_key,
    )
    state.route = route
    state.provider = route.target.provider
    return await handler(request)
