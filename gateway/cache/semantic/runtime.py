"""The semantic lookup of an app: built when the operator named an embeddings target.

Without ``--semantic-cache-embeddings`` (or without a response cache) semantic mode
answers exact repeats only, like simple mode. The vectors live where the answers do:
in this worker's memory beside a memory store, in Redis beside a Redis store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ...redis_client import REDIS
from ...settings import Settings
from ...upstream import TRANSPORT
from ..runtime import RESPONSE_CACHE
from .embedder import Embedder
from .embeddings_target import parse_embeddings_target
from .lookup import SemanticLookup
from .memory_index import MemoryVectorIndex
from .redis_index import RedisVectorIndex

SEMANTIC_LOOKUP = web.AppKey("semantic_lookup", SemanticLookup)


def semantic_cache_context(settings: Settings):
    """cleanup_ctx (after the response cache's): registers the ``"semantic"`` lookup."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        cache = app.get(RESPONSE_CACHE)
        if not settings.semantic_cache_embeddings or cache is None:
            yield
            return
        from ...middlewares.keys import store_view  # the store's view, for a virtual key

        embedder = Embedder(
            parse_embeddings_target(settings.semantic_cache_embeddings),
            app,
            lambda: app[TRANSPORT],
            lambda: store_view(app),
            timeout=settings.semantic_cache_timeout,
        )
        if cache.store.remote:  # the worker's one Redis client, the cache's and the limits'
            index = RedisVectorIndex(
                app[REDIS], per_bucket=settings.semantic_cache_per_bucket, clock=cache.now, timeout=settings.cache_timeout
            )
        else:
            index = MemoryVectorIndex(
                per_bucket=settings.semantic_cache_per_bucket, max_bytes=settings.semantic_cache_vectors_size, clock=cache.now
            )
        lookup = SemanticLookup(cache.store, index, embedder, threshold=settings.semantic_cache_threshold, clock=cache.now)
        cache.lookups["semantic"] = app[SEMANTIC_LOOKUP] = lookup
        try:
            yield
        finally:
            await lookup.settled()

    return context
