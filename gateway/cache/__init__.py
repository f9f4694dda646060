"""The response cache (issue 14): simple mode, in memory or in Redis.

* :mod:`.status` — the statuses and header names, in one place;
* :mod:`.key` — what makes two requests the same (never a secret in a key);
* :mod:`.entry` — a cached answer, its encoding for Redis (compressed above a size);
* :mod:`.stores` / :mod:`.redis_store` — where entries live (memory: LRU by bytes,
  per worker; Redis: TTLs in Redis, shared by a fleet);
* :mod:`.lookup` — the seam a mode plugs into (:class:`~.lookup.CacheLookup`);
* :mod:`.recording` — what a relayed answer leaves to store;
* :mod:`.runtime` — the app's cache and the two steps of a request (``begin``,
  ``finish``), used by ``gateway.routing``.
"""

from .lookup import CacheLookup, CacheQuery, Found, SimpleLookup
from .runtime import RESPONSE_CACHE, CacheTicket, ResponseCache, cache_context
from .status import DISABLED, HIT, HITS, MISS, REFRESH, SEMANTIC_HIT, SEMANTIC_MISS, STATUS_HEADER

__all__ = [
    "DISABLED",
    "HIT",
    "HITS",
    "MISS",
    "REFRESH",
    "RESPONSE_CACHE",
    "SEMANTIC_HIT",
    "SEMANTIC_MISS",
    "STATUS_HEADER",
    "CacheLookup",
    "CacheQuery",
    "CacheTicket",
    "Found",
    "ResponseCache",
    "SimpleLookup",
    "cache_context",
]
