"""The semantic cache's vectors in this worker's memory (the default).

Buckets (:mod:`.bucket`) hold up to ``per_bucket`` entries each: a unit vector, the
key of the cached answer it leads to, and when it expires. A lookup scores the
whole bucket with one matrix-vector product (cosine similarity of unit vectors) and
takes the best entry at or above the threshold. Within a bucket the least recently
used entry (found or stored) makes room for a new one, after expired ones; across
buckets, the least recently used bucket goes when the vectors pass ``max_bytes``.

Nothing here awaits, so one worker's concurrent requests never see a half-done
change (asyncio runs each call to the end).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .vectors import DTYPE

_FIRST_CAPACITY = 8


@dataclass(frozen=True, slots=True)
class Match:
    """The entry a lookup found: the cached answer's key and its similarity."""

    key: str
    score: float


class _Bucket:
    """One bucket's entries in preallocated arrays (grown by doubling up to the bound)."""

    __slots__ = ("expires", "free", "keys", "slots", "used", "vectors")

    def __init__(self, dimensions: int, capacity: int) -> None:
        self.vectors = np.zeros((capacity, dimensions), DTYPE)
        self.expires = np.full(capacity, -np.inf)  # -inf: a free slot
        self.keys: list[str | None] = [None] * capacity
        self.slots: OrderedDict[str, int] = OrderedDict()  # key → slot, least recently used first
        self.used = 0  # slots in use or freed (rows worth scoring)
        self.free: list[int] = []

    @property
    def dimensions(self) -> int:
        return self.vectors.shape[1]

    @property
    def nbytes(self) -> int:
        return self.vectors.nbytes + self.expires.nbytes

    def search(self, vector: np.ndarray, threshold: float, now: float) -> Match | None:
        used = self.used
        if not used:
            return None
        scores = self.vectors[:used] @ vector
        scores[self.expires[:used] <= now] = -np.inf
        best = int(np.argmax(scores))
        score = float(scores[best])
        if not score >= threshold:
            return None
        key = self.keys[best]
        self.slots.move_to_end(key)
        return Match(key, score)

    def put(self, key: str, vector: np.ndarray, expires_at: float, limit: int, now: float) -> None:
        slot = self.slots.get(key)
        if slot is None:
            slot = self._slot(limit, now)
            self.keys[slot] = key
            self.slots[key] = slot
        else:
            self.slots.move_to_end(key)
        self.vectors[slot] = vector
        self.expires[slot] = expires_at

    def remove(self, key: str) -> None:
        slot = self.slots.pop(key, None)
        if slot is not None:
            self._release(slot)

    def _slot(self, limit: int, now: float) -> int:
        if self.free:
            return self.free.pop()
        capacity = len(self.keys)
        if self.used == capacity and capacity < limit:
            self._grow(min(capacity * 2, limit))
        if self.used < len(self.keys):
            self.used += 1
            return self.used - 1
        for slot in np.flatnonzero(self.expires[: self.used] <= now):
            del self.slots[self.keys[slot]]
            self._release(int(slot))
        if self.free:
            return self.free.pop()
        _, slot = self.slots.popitem(last=False)  # the least recently used
        return slot

    def _release(self, slot: int) -> None:
        self.keys[slot] = None
        self.expires[slot] = -np.inf
        self.free.append(slot)

    def _grow(self, capacity: int) -> None:
        used = self.used
        vectors = np.zeros((capacity, self.dimensions), DTYPE)
        vectors[:used] = self.vectors[:used]
        expires = np.full(capacity, -np.inf)
        expires[:used] = self.expires[:used]
        self.vectors, self.expires = vectors, expires
        self.keys.extend([None] * (capacity - len(self.keys)))


class MemoryVectorIndex:
    """Buckets of vectors, bounded per bucket (entries) and in all (bytes)."""

    def __init__(self, *, per_bucket: int, max_bytes: int, clock=time.time) -> None:
        if per_bucket < 1:
            raise ValueError("per_bucket must be at least 1")
        self.per_bucket = per_bucket
        self.max_bytes = max_bytes
        self._clock = clock
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()  # least recently used first
        self.nbytes = 0

    def __len__(self) -> int:
        """Entries held (expired ones included until they are reclaimed)."""
        return sum(len(bucket.slots) for bucket in self._buckets.values())

    async def search(self, bucket: str, vector: np.ndarray, threshold: float) -> Match | None:
        return self.search_now(bucket, vector, threshold)

    async def add(self, bucket: str, key: str, vector: np.ndarray, expires_at: float) -> None:
        self.add_now(bucket, key, vector, expires_at)

    async def remove(self, bucket: str, key: str) -> None:
        self.remove_now(bucket, key)

    def search_now(self, bucket: str, vector: np.ndarray, threshold: float) -> Match | None:
        entries = self._buckets.get(bucket)
        if entries is None or entries.dimensions != vector.shape[0]:
            return None
        self._buckets.move_to_end(bucket)
        return entries.search(vector, threshold, self._clock())

    def add_now(self, bucket: str, key: str, vector: np.ndarray, expires_at: float) -> None:
        entries = self._buckets.get(bucket)
        if entries is not None and entries.dimensions != vector.shape[0]:
            self._drop(bucket)  # another embeddings model's vectors: not comparable
            entries = None
        if entries is None:
            entries = self._buckets[bucket] = _Bucket(vector.shape[0], min(_FIRST_CAPACITY, self.per_bucket))
            self.nbytes += entries.nbytes
        else:
            self._buckets.move_to_end(bucket)
        before = entries.nbytes
        entries.put(key, vector, expires_at, self.per_bucket, self._clock())
        self.nbytes += entries.nbytes - before
        while self.nbytes > self.max_bytes and len(self._buckets) > 1:
            self._drop(next(iter(self._buckets)))  # never the bucket just used: it is last

    def remove_now(self, bucket: str, key: str) -> None:
        entries = self._buckets.get(bucket)
        if entries is not None:
            entries.remove(key)

    def _drop(self, bucket: str) -> None:
        self.nbytes -= self._buckets.pop(bucket).nbytes
