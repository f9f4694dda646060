"""How a mode finds an answer: the seam between the cache and its modes.

A :class:`CacheLookup` answers a :class:`CacheQuery` with a :class:`Found` (an entry
and the status to report) or None, and remembers the answer of a request that was
not found. :class:`SimpleLookup` is the simple mode: the exact key. A semantic
lookup is a second implementation of the same two methods, registered for
``"semantic"`` in :class:`gateway.cache.runtime.ResponseCache` ``.lookups``:

* ``find`` may try the exact key first (``SimpleLookup``, as Portkey's does), then
  search the answers of ``query.key.partition`` (same caller, route, target and
  namespace) by the last user message of ``query.call.json``, with the threshold and
  the embeddings target in ``query.policy.options``; ``Found(entry, SEMANTIC_HIT)``.
  Anything that fails (the embeddings call included) is a miss: ``None`` (reported
  as ``miss_status``), or an object with ``entry = None`` and its own ``status``
  (semantic mode's ``MISS`` when it could not compare at all).
* ``miss_status`` is ``SEMANTIC_MISS``;
* ``remember`` stores the entry (``store.put(query.key.digest, entry, query.max_age)``)
  and indexes it.

Routing, the relay, the headers, the metrics and the zero-token usage of a hit need
nothing else: whatever ``find`` returns is replayed as the answer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web

from ..config import Target
from ..config.cache import CachePolicy
from ..providers.base import Call
from .entry import CachedAnswer
from .key import CacheKey
from .status import HIT, MISS
from .stores import CacheStore


@dataclass(frozen=True, slots=True)
class CacheQuery:
    """One request at one target, as the cache sees it."""

    key: CacheKey
    # The call as this target sends it (after override_params): ``call.json`` is the body.
    call: Call
    target: Target
    policy: CachePolicy
    # Seconds an answer may have been stored for to be served (the policy's max_age,
    # within the operator's --cache-max-age); also its time to live when stored.
    max_age: int
    # The client's request (its app: the transport, for a lookup that calls an upstream).
    request: web.Request


@dataclass(frozen=True, slots=True)
class Found:
    entry: CachedAnswer
    status: str  # HIT or SEMANTIC HIT


class CacheLookup(Protocol):
    # The status of a request this lookup did not find (MISS, SEMANTIC MISS).
    miss_status: str

    async def find(self, query: CacheQuery) -> Found | None: ...

    async def remember(self, query: CacheQuery, entry: CachedAnswer) -> None: ...


class SimpleLookup:
    """The exact key, in one store."""

    miss_status = MISS

    def __init__(self, store: CacheStore, *, clock=time.time) -> None:
        self.store = store
        self._clock = clock

    async def find(self, query: CacheQuery) -> Found | None:
        entry = await self.store.get(query.key.digest)
        if entry is None or entry.age(self._clock()) >= query.max_age:
            return None  # an older answer than this request accepts is not served
        return Found(entry, HIT)

    async def remember(self, query: CacheQuery, entry: CachedAnswer) -> None:
        await self.store.put(query.key.digest, entry, query.max_age)
