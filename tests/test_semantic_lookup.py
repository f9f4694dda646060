"""The semantic lookup alone: a memory store and index, a stub embedder, no sockets."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import numpy as np
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.cache.entry import CachedAnswer
from gateway.cache.key import cache_key
from gateway.cache.lookup import CacheQuery
from gateway.cache.semantic import lookup as lookup_module
from gateway.cache.semantic.lookup import SemanticLookup
from gateway.cache.semantic.memory_index import MemoryVectorIndex
from gateway.cache.semantic.vectors import unit_vector
from gateway.cache.stores import MemoryStore
from gateway.config import Target
from gateway.config.cache import CachePolicy
from gateway.providers.base import Call
from gateway.redis_client import RedisUnavailable

pytestmark = pytest.mark.unit

NOW = 1_000.0


class StubEmbedder:
    """Every text the same vector (so every search finds what the bucket holds)."""

    spec = SimpleNamespace(fingerprint="stub|model")

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def embed(self, text: str) -> np.ndarray:
        self.texts.append(text)
        return unit_vector([1.0, 2.0, 3.0])


class BrokenIndex:
    async def search(self, bucket, vector, threshold):
        raise RedisUnavailable("cannot connect: Connection refused")

    async def add(self, bucket, key, vector, expires_at):
        raise RedisUnavailable("cannot connect: Connection refused")

    async def remove(self, bucket, key):
        raise RedisUnavailable("cannot connect: Connection refused")


def query(text: str) -> CacheQuery:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    call = Call("POST", "chat/completions", "", CIMultiDictProxy(CIMultiDict()), body=b"", json=body)
    target = Target(provider="openai", api_key="sk-test-1")
    key = cache_key(call, target, CIMultiDictProxy(CIMultiDict()), shared=False)
    return CacheQuery(key, call, target, CachePolicy("semantic", 60), 60, None)


def entry(text: str) -> CachedAnswer:
    return CachedAnswer(200, (("Content-Type", "application/json"),), (text.encode(),), NOW)


def semantic(index=None):
    store = MemoryStore(1 << 20, 1 << 20)
    index = index or MemoryVectorIndex(per_bucket=8, max_bytes=1 << 20, clock=lambda: NOW)
    return SemanticLookup(store, index, StubEmbedder(), threshold=0.95, clock=lambda: NOW), store, index


async def test_a_vector_whose_answer_is_gone_is_dropped_and_the_lookup_is_a_semantic_miss():
    lookup, store, index = semantic()
    first = query("first question")
    assert await lookup.find(first) is None
    await lookup.remember(first, entry("first answer"))
    assert (await lookup.find(query("second question"))).entry.chunks == (b"first answer",)
    await store.close()  # the answer is evicted; its vector is not yet
    assert len(index) == 1
    assert await lookup.find(query("third question")) is None
    assert len(index) == 0


async def test_a_vector_store_that_fails_is_a_plain_miss_and_one_log_line(caplog):
    lookup, _, _ = semantic(BrokenIndex())
    caplog.set_level(logging.WARNING, "gateway.cache.semantic")
    for text in ("a", "b"):
        missed = await lookup.find(query(text))
        assert (missed.status, missed.entry) == ("MISS", None)
    await lookup.remember(query("a"), entry("answer"))  # stored exactly; the vector is given up
    await lookup.settled()
    [record] = caplog.records
    assert record.fields["error"] == "RedisUnavailable" and "refused" not in caplog.text


async def test_vectors_kept_between_find_and_remember_are_bounded(monkeypatch):
    monkeypatch.setattr(lookup_module, "PENDING", 3)
    lookup, _, _ = semantic()
    for number in range(5):
        await lookup.find(query(f"question {number}"))
    assert len(lookup._pending) == 3


async def test_only_a_miss_keeps_its_vector_for_remember():
    lookup, _, _ = semantic()
    first = query("first question")
    await lookup.find(first)
    await lookup.remember(first, entry("first answer"))
    assert not lookup._pending
    assert (await lookup.find(query("second question"))).status == "SEMANTIC HIT"
    assert not lookup._pending  # a hit is never remembered: nothing to keep


async def test_remember_reuses_the_vector_find_computed():
    lookup, _, index = semantic()
    asked = query("a question")
    await lookup.find(asked)
    await lookup.remember(asked, entry("an answer"))
    assert lookup.embedder.texts == ["a question"] and len(index) == 1


class RecordingIndex(MemoryVectorIndex):
    def __init__(self) -> None:
        super().__init__(per_bucket=8, max_bytes=1 << 20, clock=lambda: NOW)
        self.added: list[tuple[str, float]] = []

    async def add(self, bucket, key, vector, expires_at):
        self.added.append((key, expires_at))
        await super().add(bucket, key, vector, expires_at)


async def test_a_vector_expires_with_its_answer():
    index = RecordingIndex()
    lookup = SemanticLookup(MemoryStore(1 << 20, 1 << 20), index, StubEmbedder(), threshold=0.95, clock=lambda: NOW)
    asked = query("a question")
    await lookup.find(asked)
    await lookup.remember(asked, entry("an answer"))
    assert index.added == [(asked.key.digest, NOW + 60)]  # stored at NOW, max_age 60


class OtherModelEmbedder(StubEmbedder):
    """The same vectors, from another embeddings model (a changed config)."""

    spec = SimpleNamespace(fingerprint="stub|other-model")


async def test_vectors_of_another_embeddings_model_are_never_compared():
    lookup, store, index = semantic()
    first = query("first question")
    await lookup.find(first)
    await lookup.remember(first, entry("first answer"))
    other = SemanticLookup(store, index, OtherModelEmbedder(), threshold=0.95, clock=lambda: NOW)
    assert await other.find(query("second question")) is None  # a semantic miss, not a hit
    assert (await lookup.find(query("second question"))).status == "SEMANTIC HIT"
