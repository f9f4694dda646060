"""The aiohttp application: middlewares in order, routes, shared clients."""

from __future__ import annotations

from aiohttp import web

from .cache import cache_context
from .cache.runtime import RESPONSE_CACHE
from .custom_host import custom_hosts_context
from .handlers import add_routes
from .middlewares import MIDDLEWARES
from .middlewares.config import route_cache_context
from .middlewares.drain import IN_FLIGHT, InFlight
from .middlewares.limits import LIMITS, limits_context
from .observability import METRICS, build_metrics, metrics_handler, observability_context
from .providers.bedrock.lifecycle import aws_credentials_context
from .providers.vertex.lifecycle import vertex_tokens_context
from .redis_client import redis_context
from .settings import SETTINGS, Settings
from .store.runtime import STORE_RUNTIME
from .upstream import session_context


def create_app(settings: Settings | None = None) -> web.Application:
    settings = settings or Settings()
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=settings.max_body_size)
    app[SETTINGS] = settings
    app[IN_FLIGHT] = InFlight()
    # Present from the start (None until their cleanup_ctx opens them): each request
    # looks them up, and a missing key costs a KeyError raised and caught inside get().
    app[LIMITS] = app[STORE_RUNTIME] = app[RESPONSE_CACHE] = None
    app.cleanup_ctx.append(session_context(settings))
    # The worker's one Redis client (limits, cache, semantic index): before its users, closed after them.
    app.cleanup_ctx.append(redis_context(settings.redis_url, timeout=max(settings.limits_timeout, settings.cache_timeout)))
    app.cleanup_ctx.append(aws_credentials_context)
    app.cleanup_ctx.append(vertex_tokens_context)
    app.cleanup_ctx.append(custom_hosts_context(settings.allowed_custom_hosts, settings.custom_host_cache_size))
    app.cleanup_ctx.append(route_cache_context(settings.route_cache_size))  # after custom hosts: reads them
    app[METRICS] = build_metrics(settings)
    app.cleanup_ctx.append(observability_context(settings))
    add_routes(app)  # opens the store (cleanup_ctx)
    app.cleanup_ctx.append(limits_context)  # after the store: limits live on its keys
    app.cleanup_ctx.append(cache_context(settings))
    if settings.semantic_cache_embeddings:
        from .cache.semantic.runtime import semantic_cache_context  # numpy: the semantic extra

        app.cleanup_ctx.append(semantic_cache_context(settings))  # after the cache: registers a lookup
    if settings.metrics and settings.metrics_listen is None:
        app.router.add_get("/metrics", metrics_handler)
    return app
