"""Semantic mode: the cache's ``"semantic"`` lookup (:class:`gateway.cache.lookup.CacheLookup`).

``find``, in order:

1. the exact key (simple mode's lookup): ``HIT``, as Portkey's semantic mode also
   answers exact repeats;
2. the request split (:mod:`.prompt`): no text to compare (an image in the last
   user message, a list of prompts, another endpoint) → ``MISS``;
3. the text embedded (:mod:`.embedder`): no vector (the embeddings call failed or
   timed out) → ``MISS``;
4. the bucket searched (:mod:`.memory_index` or :mod:`.redis_index`): the best entry
   at or above the threshold whose answer is still stored and young enough for this
   request → ``SEMANTIC HIT``; else ``SEMANTIC MISS``. A vector whose answer is gone
   (expired, evicted) is dropped.

``MISS`` thus says the semantic search could not run, ``SEMANTIC MISS`` that it ran
and found nothing similar enough. ``remember`` stores the answer under its exact key
(simple mode's store) and its vector in the bucket, pointing at that key, expiring
with it; the vector computed by ``find`` is reused (a forced refresh, which skips
``find``, embeds in the background). A failure of the vector store is a miss and a
log line, never an error for the client.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ...limits.counters import ThrottledLog
from ...redis_client import RedisUnavailable
from ..entry import CachedAnswer
from ..lookup import CacheQuery, Found, SimpleLookup
from ..status import MISS, SEMANTIC_HIT, SEMANTIC_MISS
from ..stores import CacheStore
from .bucket import bucket_id
from .embedder import Embedder
from .memory_index import Match
from .prompt import semantic_query

log = logging.getLogger("gateway.cache.semantic")

THRESHOLD_OPTION = "similarity_threshold"
# Vectors found by ``find`` kept for ``remember`` (by exact key); an answer that is
# never stored (an error, a client gone) leaves one behind until pushed out.
PENDING = 1024


class VectorIndex(Protocol):
    async def search(self, bucket: str, vector: np.ndarray, threshold: float) -> Match | None: ...

    async def add(self, bucket: str, key: str, vector: np.ndarray, expires_at: float) -> None: ...

    async def remove(self, bucket: str, key: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Missed:
    """A lookup that found nothing, and which miss it was (``find`` answers it
    instead of None when the status is not the lookup's ``miss_status``)."""

    status: str
    entry: None = None


NOT_COMPARED = Missed(MISS)


class SemanticLookup:
    miss_status = SEMANTIC_MISS

    def __init__(
        self, store: CacheStore, index: VectorIndex, embedder: Embedder, *, threshold: float, clock=time.time
    ) -> None:
        self.exact = SimpleLookup(store, clock=clock)
        self.store = store
        self.index = index
        self.embedder = embedder
        self.threshold = threshold
        self._clock = clock
        self._pending: OrderedDict[str, tuple[str, np.ndarray]] = OrderedDict()
        self._background: set[asyncio.Task] = set()
        self._throttle = ThrottledLog(60.0)

    async def find(self, query: CacheQuery) -> Found | Missed | None:
        found = await self.exact.find(query)
        if found is not None:
            return found
        split = semantic_query(query.call.endpoint, query.call.json)
        if split is None:
            return NOT_COMPARED
        vector = await self.embedder.embed(split.text)
        if vector is None:
            return NOT_COMPARED
        bucket = self._bucket(query, split.rest)
        try:
            match = await self.index.search(bucket, vector, threshold_of(query.policy.options, self.threshold))
        except (RedisUnavailable, TimeoutError, OSError) as exc:
            self._failed("search", exc)
            return NOT_COMPARED
        if match is not None:
            entry = await self.store.get(match.key)
            if entry is not None and entry.age(self._clock()) < query.max_age:
                return Found(entry, SEMANTIC_HIT)
            await self._forget(bucket, match.key)
        self._keep(query.key.digest, bucket, vector)  # for remember(), once the answer is in
        return None

    async def remember(self, query: CacheQuery, entry: CachedAnswer) -> None:
        await self.exact.remember(query, entry)
        expires_at = entry.stored_at + query.max_age
        kept = self._pending.pop(query.key.digest, None)
        if kept is not None:
            await self._add(kept[0], query.key.digest, kept[1], expires_at)
            return
        split = semantic_query(query.call.endpoint, query.call.json)
        if split is None:
            return
        # Not looked up (a forced refresh): embedding now would hold up the request
        # that is finishing; it goes on in the background.
        task = asyncio.ensure_future(self._embed_and_add(query, split, expires_at))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def settled(self) -> None:
        """Wait for background embeddings (shutdown, tests)."""
        while self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    def _bucket(self, query: CacheQuery, rest: Mapping[str, Any]) -> str:
        # The exact key's partition: route, target, answer-changing headers, namespace
        # and the caller's identity; then the embeddings model and the rest of the body.
        return bucket_id((query.key.partition, self.embedder.spec.fingerprint), rest)

    def _keep(self, digest: str, bucket: str, vector: np.ndarray) -> None:
        self._pending[digest] = (bucket, vector)
        self._pending.move_to_end(digest)
        if len(self._pending) > PENDING:
            self._pending.popitem(last=False)

    async def _embed_and_add(self, query: CacheQuery, split, expires_at: float) -> None:
        vector = await self.embedder.embed(split.text)
        if vector is not None:
            await self._add(self._bucket(query, split.rest), query.key.digest, vector, expires_at)

    async def _add(self, bucket: str, key: str, vector: np.ndarray, expires_at: float) -> None:
        try:
            await self.index.add(bucket, key, vector, expires_at)
        except (RedisUnavailable, TimeoutError, OSError) as exc:
            self._failed("write", exc)

    async def _forget(self, bucket: str, key: str) -> None:
        try:
            await self.index.remove(bucket, key)
        except (RedisUnavailable, TimeoutError, OSError) as exc:
            self._failed("removal", exc)

    def _failed(self, operation: str, exc: BaseException) -> None:
        skipped = self._throttle.due()
        if skipped is not None:
            log.warning(
                "semantic cache: a %s in the vector store failed (a miss; the request goes on)",
                operation,
                extra={"fields": {"error": type(exc).__name__, "failures_not_logged": skipped}},
            )


def threshold_of(options: Mapping[str, Any], default: float) -> float:
    """The config's ``similarity_threshold`` (checked when the config was parsed), else ``default``."""
    value = options.get(THRESHOLD_OPTION)
    return float(value) if value is not None else default
