"""Where cached answers live: the store interface, and the in-memory store.

A store maps a key's digest to a :class:`CachedAnswer` with a time to live. Its
failures are its own business: ``get`` answers None (a miss) and ``put`` gives up,
so that the cache can never fail a request. ``remote`` stores (Redis) are written
in the background, after the answer went out.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

from .entry import CachedAnswer


class CacheStore(Protocol):
    remote: bool

    async def get(self, key: str) -> CachedAnswer | None: ...

    async def put(self, key: str, entry: CachedAnswer, ttl: int) -> None: ...

    async def close(self) -> None: ...


class MemoryStore:
    """Answers in this worker's memory: at most ``max_bytes``, least recently used out first.

    Each worker has its own (they share nothing); an entry larger than
    ``max_entry`` bytes is not kept. Expired entries go when looked up, or when
    room is needed.
    """

    remote = False

    def __init__(self, max_bytes: int, max_entry: int, *, clock=time.monotonic) -> None:
        self.max_bytes = max_bytes
        self.max_entry = min(max_entry, max_bytes)
        self.used = 0
        self._entries: OrderedDict[str, tuple[CachedAnswer, float, int]] = OrderedDict()
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    async def get(self, key: str) -> CachedAnswer | None:
        return self.get_now(key)

    def get_now(self, key: str) -> CachedAnswer | None:
        item = self._entries.get(key)
        if item is None:
            return None
        entry, expires_at, _ = item
        if self._clock() >= expires_at:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry

    async def put(self, key: str, entry: CachedAnswer, ttl: int) -> None:
        size = entry.size
        if size > self.max_entry:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = (entry, self._clock() + ttl, size)
        self.used += size
        while self.used > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        _, _, size = self._entries.pop(key)
        self.used -= size

    async def close(self) -> None:
        self._entries.clear()
        self.used = 0
