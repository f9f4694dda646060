"""Cached answers in Redis, shared by a fleet: one ``GET`` per lookup, one ``SET ... EX``
per answer stored (Redis expires it by itself).

The server is the one ``--redis`` names, reached through the worker's one client (the
limits' too, :mod:`gateway.redis_client`), under keys ``gw:c:<digest>``;
entries are encoded (:meth:`CachedAnswer.encode`) and compressed above a size. Any
failure (refused, timed out after ``timeout`` seconds, a damaged entry) is a miss or
a store given up, and a warning at most once a minute per worker, never an error for
the client.
"""

from __future__ import annotations

import logging
import time

from ..redis_client import RedisClient, RedisUnavailable
from .entry import COMPRESS_ABOVE, BadEntry, CachedAnswer

log = logging.getLogger("gateway.cache")

KEY_PREFIX = "gw:c:"
WARN_EVERY_S = 60.0


class RedisStore:
    remote = True

    def __init__(
        self, redis: RedisClient | str, *, timeout: float, compress_above: int = COMPRESS_ABOVE, max_entry: int
    ) -> None:
        """``redis``: the app's shared client (closed by its owner), or a URL for a
        client of this store's own (tests, benchmarks)."""
        self._owns_client = isinstance(redis, str)
        self._redis = RedisClient(redis, timeout=timeout) if isinstance(redis, str) else redis
        self.timeout = timeout  # each call's bound (the client's timer), --cache-timeout
        self.compress_above = compress_above
        self.max_entry = max_entry
        self._warned_at = float("-inf")
        self._unwarned = 0

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            blob = await self._redis.call("GET", KEY_PREFIX + key, timeout=self.timeout)
            return None if blob is None else CachedAnswer.decode(blob)
        except (RedisUnavailable, TimeoutError, OSError, BadEntry) as exc:
            self._warn("lookup", exc)
            return None

    async def put(self, key: str, entry: CachedAnswer, ttl: int) -> None:
        blob = entry.encode(self.compress_above)
        if len(blob) > self.max_entry:
            return
        try:
            await self._redis.call("SET", KEY_PREFIX + key, blob, "EX", ttl, timeout=self.timeout)
        except (RedisUnavailable, TimeoutError, OSError) as exc:
            self._warn("store", exc)

    def _warn(self, what: str, exc: BaseException) -> None:
        """One line a minute at most: a Redis that is down must not flood the log."""
        now = time.monotonic()
        if now - self._warned_at < WARN_EVERY_S:
            self._unwarned += 1
            return
        log.warning(
            "response cache: redis %s failed (%s: %s); answering as a miss%s",
            what, type(exc).__name__, exc,
            f" ({self._unwarned} more failures since the last warning)" if self._unwarned else "",
        )
        self._warned_at, self._unwarned = now, 0

    async def close(self) -> None:
        if self._owns_client:
            await self._redis.close()
