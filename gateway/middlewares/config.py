"""Third middleware: x-portkey-* headers and x-portkey-config → RouteSpec.

The whole routing tree is checked here, before the handler reads a byte of the body
or calls any upstream; provider names are checked against the registry.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ..config import METADATA_HEADER, ProviderCatalog, RouteSpec, build_route, parse_metadata
from ..config.stored import StoredLookup
from ..custom_host import CUSTOM_HOSTS, HostValidator
from ..providers.registry import PROVIDERS
from ..store.runtime import STORE_RUNTIME
from .keys import CLIENT_KEY, default_metadata, store_view
from .state import STATE_KEY, state_of
from .stored_routes import check_scopes, merge_default_metadata, stored_routing_headers

# x-portkey-* headers that say nothing about where a request goes; they differ from
# call to call, and leaving them out of the cache key keeps one route for all of a
# client's calls. Metadata is read from the request when conditional routing asks.
_NOT_ROUTING = frozenset(
    {"x-portkey-trace-id", "x-portkey-api-key", METADATA_HEADER}
    | {"x-portkey-cache-namespace", "x-portkey-cache-force-refresh"}  # read per request (gateway/cache/)
)


@web.middleware
def config_middleware(request: web.Request, handler):
    # Not a coroutine unless the store is read: without one it awaits nothing, and hands
    # on the handler's awaitable rather than adding a frame that every resumption of the
    # request (each chunk of a stream) passes through.
    state = request[STATE_KEY]
    if not state.api:
        return handler(request)
    routing_headers = _routing_headers(request.headers)
    app = request.app
    runtime = app.get(STORE_RUNTIME)
    if runtime is not None:
        return _stored_route(request, handler, routing_headers, runtime)
    # No store: no stored key on the request (auth sets one only from the store).
    _use_route(request, app[ROUTES].get(routing_headers, state.header_api_key, -1), None)
    return handler(request)


def _routing_headers(headers) -> tuple[tuple[str, str], ...]:
    """The request's x-portkey-* headers that say where it goes, names lowercased."""
    found = []
    for name, value in headers.items():
        # "x-portkey-" has its second dash at [9]: most names (X-Stainless-*, Accept,
        # Authorization...) are passed over without being lowercased.
        if name[9:10] == "-" and (lower := name.lower()).startswith("x-portkey-") and lower not in _NOT_ROUTING:
            found.append((lower, value))
    return tuple(found)


async def _stored_route(request: web.Request, handler, routing_headers: tuple, runtime) -> web.StreamResponse:
    """The route with the store's virtual keys and configs, checked against the key's scopes."""
    client = request.get(CLIENT_KEY)
    version = runtime.view.current.version  # a changed store makes new routes (revoked keys)
    routing_headers = await stored_routing_headers(request, routing_headers, client)
    route = request.app[ROUTES].get(routing_headers, state_of(request).header_api_key, version)
    if client is not None:
        await check_scopes(request, route, client)
    _use_route(request, route, client)
    return await handler(request)


def _use_route(request: web.Request, route: RouteSpec, client) -> None:
    state = state_of(request)
    metadata = request.headers.get(METADATA_HEADER)
    if metadata is not None:
        # Checked here so that a bad one is a 400 before the body is read; conditional
        # routing reads it from the request (RouteContext.metadata).
        parse_metadata(metadata)
    state.route = route
    state.provider = route.target.provider
    defaults = default_metadata(client)
    if defaults is not None:
        merge_default_metadata(request, defaults)


class RouteCache:
    """One app's parsed routes, by routing headers and client key: an LRU of ``size``
    entries (0 keeps none).

    A client sends the same routing headers on every call, and a route is frozen: one
    parsed, validated route serves them all (building one is 10-30 us; a cached one
    costs a dict lookup). Only x-portkey-* routing headers and the client's key are read
    to build a route; a bad config raises, and is never cached.
    """

    def __init__(
        self, size: int, hosts: HostValidator, providers: ProviderCatalog, stored: Callable[[], StoredLookup | None]
    ) -> None:
        self._hosts = hosts
        self._providers = providers
        self._stored = stored
        self.get = functools.lru_cache(maxsize=size)(self._build)

    def clear(self) -> None:
        self.get.cache_clear()

    def _build(
        self, routing_headers: tuple[tuple[str, str], ...], api_key: str | None, store_version: int = -1
    ) -> RouteSpec:
        # ``store_version`` is only part of the cache key: a route built from a virtual
        # key or a stored config is never served after the store changed.
        headers = CIMultiDictProxy(CIMultiDict(routing_headers))
        return build_route(headers, self._hosts, providers=self._providers, api_key=api_key, stored=self._stored())


ROUTES = web.AppKey("routes", RouteCache)


def route_cache_context(size: int):
    """cleanup_ctx: the app's RouteCache (after CUSTOM_HOSTS, which it checks hosts
    with); emptied on shutdown, which drops the credentials routes hold."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[ROUTES] = routes = RouteCache(size, app[CUSTOM_HOSTS], PROVIDERS, lambda: store_view(app))
        yield
        routes.clear()

    return context
