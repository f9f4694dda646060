"""The app's response cache: its store, its modes, and the two steps of a request.

``begin`` (before a target is called): the key, then the lookup of the leaf's mode,
unless the request forces a refresh; it gives a :class:`CacheTicket` saying what
happened. ``finish`` (after the answer was relayed): a 2xx answer that ended cleanly
is remembered, unless the request said ``Cache-Control: no-store``. Request headers:

* ``x-portkey-cache-force-refresh: true`` (or ``Cache-Control: no-cache``): no lookup,
  the fresh answer is stored, status ``REFRESH``;
* ``Cache-Control: no-store``: the answer is not stored (a lookup may still hit).

A streamed chat completion that is not found may be answered by the same request's
whole answer, as a stream (:mod:`.as_stream`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from aiohttp import web

from ..config import Leaf
from ..providers.base import Call
from ..redis_client import REDIS, RedisClient
from ..settings import Settings
from ..streaming.result import RelayResult
from ..streaming.usage_filter import USAGE_FILTER
from .as_stream import ENDPOINT, as_stream, whole_body
from .entry import CachedAnswer
from .key import cache_key
from .lookup import CacheLookup, CacheQuery, Found, SimpleLookup
from .recording import Recording, recorded_entry
from .status import DISABLED, FORCE_REFRESH_HEADER, REFRESH
from .stores import CacheStore, MemoryStore

log = logging.getLogger("gateway.cache")


@dataclass(frozen=True, slots=True)
class CacheTicket:
    """What the cache did for one request at one target, and what it will do after."""

    status: str
    query: CacheQuery | None = None
    lookup: CacheLookup | None = None
    # The answer found (a hit), else None.
    hit: CachedAnswer | None = None
    # Whether the answer, once relayed, is to be stored.
    store: bool = False

    def recording(self, limit: int) -> Recording | None:
        return Recording(limit) if self.store else None


NOT_CACHEABLE = CacheTicket(DISABLED)


class ResponseCache:
    def __init__(self, store: CacheStore, *, max_age: int, shared: bool, max_entry: int) -> None:
        self.store = store
        self.max_age = max_age
        self.shared = shared
        self.max_entry = max_entry
        self.clock = time.time  # stamps entries; lookups judge their age by it
        # The lookup of each mode. Semantic mode answers exact matches only, as its
        # first stage, until its own lookup is registered here.
        self.exact = SimpleLookup(store, clock=self.now)
        self.lookups: dict[str, CacheLookup] = {"simple": self.exact, "semantic": self.exact}
        self._writes: set[asyncio.Task] = set()

    def now(self) -> float:
        return self.clock()

    async def begin(self, request: web.Request, call: Call, leaf: Leaf) -> CacheTicket:
        policy = leaf.cache
        key = None if policy is None else cache_key(call, leaf.target, request.headers, shared=self.shared)
        if key is None:
            return NOT_CACHEABLE
        max_age = min(policy.max_age or self.max_age, self.max_age)
        query = CacheQuery(key, call, leaf.target, policy, max_age, request)
        lookup = self.lookups[policy.mode]
        no_cache, no_store = _cache_control(request.headers.get("Cache-Control"))
        if no_cache or _true(request.headers.get(FORCE_REFRESH_HEADER)):
            return CacheTicket(REFRESH, query, lookup, store=not no_store)
        found = await lookup.find(query)
        if (found is None or found.entry is None) and call.wants_stream and call.endpoint == ENDPOINT:
            found = await self._whole_as_stream(request, query) or found
        if found is not None and found.entry is not None:
            return CacheTicket(found.status, query, lookup, hit=found.entry)
        # A lookup may say which miss it was (semantic mode: MISS when it could not compare).
        status = lookup.miss_status if found is None else found.status
        return CacheTicket(status, query, lookup, store=not no_store)

    async def _whole_as_stream(self, request: web.Request, query: CacheQuery) -> Found | None:
        """The same request's whole answer, if cached, as a stream (``as_stream``)."""
        call = replace(query.call, json=whole_body(query.call.json))
        key = cache_key(call, query.target, request.headers, shared=self.shared)
        found = await self.exact.find(replace(query, key=key, call=call))
        if found is None:
            return None
        # A usage chunk only for a client that asked for one: not when the limits asked
        # (their filter strips it; a filter that strips nothing counts a client's own ask).
        options = query.call.json.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        usage_filter = request.get(USAGE_FILTER)
        stream = as_stream(found.entry, include_usage=include_usage and (usage_filter is None or not usage_filter.strip))
        return None if stream is None else Found(stream, found.status)

    async def finish(self, ticket: CacheTicket, response: web.StreamResponse, result: RelayResult) -> None:
        """Remember a relayed answer, when the ticket says so and it ended cleanly."""
        if not ticket.store:
            return
        entry = recorded_entry(response, result, self.now())
        if entry is None:
            return
        remembering = ticket.lookup.remember(ticket.query, entry)
        if not self.store.remote:
            await remembering  # in memory: done at once
            return
        task = asyncio.ensure_future(remembering)  # the answer is not held up by Redis
        self._writes.add(task)
        task.add_done_callback(self._written)

    def _written(self, task: asyncio.Task) -> None:
        self._writes.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("response cache: storing an answer failed", exc_info=task.exception())

    async def settled(self) -> None:
        """Wait for the answers being written (shutdown, tests)."""
        while self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def close(self) -> None:
        await self.settled()
        await self.store.close()


RESPONSE_CACHE = web.AppKey("response_cache", ResponseCache)


def _true(value: str | None) -> bool:
    return value is not None and value.strip().lower() in ("true", "1", "yes")


def _cache_control(value: str | None) -> tuple[bool, bool]:
    """(no-cache, no-store) from a request's Cache-Control."""
    if not value:
        return False, False
    directives = {item.strip().lower().partition("=")[0] for item in value.split(",")}
    return "no-cache" in directives, "no-store" in directives


def open_store(settings: Settings, redis: RedisClient | None = None) -> CacheStore | None:
    """``redis``: the app's shared client (:data:`gateway.redis_client.REDIS`); without
    one, a Redis store opens a client of its own."""
    backend = settings.cache_backend
    if backend == "off":
        return None
    if backend == "redis" or (backend == "auto" and settings.redis_url):
        from .redis_store import RedisStore  # only fleets need the client

        return RedisStore(redis or settings.redis_url, timeout=settings.cache_timeout, max_entry=settings.cache_max_entry_size)
    return MemoryStore(settings.cache_memory_size, settings.cache_max_entry_size)


def cache_context(settings: Settings):
    """cleanup_ctx: the response cache (none with ``--cache-backend off``)."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        store = open_store(settings, app.get(REDIS))  # the worker's one Redis client
        if store is None:
            yield
            return
        cache = app[RESPONSE_CACHE] = ResponseCache(
            store, max_age=settings.cache_max_age, shared=settings.cache_shared, max_entry=settings.cache_max_entry_size
        )
        try:
            yield
        finally:
            with contextlib.suppress(Exception):
                await cache.close()

    return context
