"""The fleet's vector index in a real redis-server: one round trip a lookup, TTLs in Redis."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import redis.asyncio as aioredis

from gateway.cache.semantic.redis_index import RedisVectorIndex
from gateway.cache.semantic.vectors import encode_record, unit_vector
from gateway.redis_client import RedisClient
from tests.test_semantic_memory_index import Clock, at_similarity, random_unit


@pytest.fixture
async def client(redis_server):
    """The gateway's client, the index's."""
    client = RedisClient(redis_server.url)
    yield client
    await client.close()


@pytest.fixture
async def redis(redis_server):
    """redis-py, to look at what the index wrote."""
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def clock():
    return Clock()


def index(client, clock, per_bucket=8) -> RedisVectorIndex:
    return RedisVectorIndex(client, per_bucket=per_bucket, clock=clock)


async def test_the_most_similar_entry_at_or_above_the_threshold_is_found(client, redis, clock):
    vectors = index(client, clock)
    question = random_unit(1)
    await vectors.add("b", "close", at_similarity(question, 0.97), clock.now + 60)
    await vectors.add("b", "closer", at_similarity(question, 0.99, seed=7), clock.now + 60)
    await vectors.add("b", "far", random_unit(2), clock.now + 60)
    match = await vectors.search("b", question, 0.95)
    assert match.key == "closer"
    assert match.score == pytest.approx(0.99, abs=1e-5)
    assert await vectors.search("b", question, 0.995) is None
    assert await vectors.search("other-bucket", question, 0.5) is None


async def test_a_lookup_is_one_round_trip(client, redis, clock, monkeypatch):
    vectors = index(client, clock)
    question = random_unit(1)
    for number in range(5):
        await vectors.add("b", f"k{number}", random_unit(number + 10), clock.now + 60)
    await vectors.add("b", "hit", question, clock.now + 60)
    commands = []
    original = client.call

    async def counted(*args, **options):
        commands.append(args[0])
        return await original(*args, **options)

    monkeypatch.setattr(client, "call", counted)
    assert (await vectors.search("b", question, 0.9)).key == "hit"
    assert commands == ["HGETALL"]


async def test_expired_entries_are_never_found(client, redis, clock):
    vectors = index(client, clock)
    question = random_unit(1)
    await vectors.add("b", "k", question, clock.now + 60)
    clock.now += 61
    assert await vectors.search("b", question, 0.5) is None


async def test_the_bucket_carries_a_redis_ttl_of_its_longest_lived_entry(client, redis, clock):
    vectors = index(client, clock)
    await vectors.add("b", "long", random_unit(1), clock.now + 600)
    await vectors.add("b", "short", random_unit(2), clock.now + 30)
    for key in (vectors.hash_key("b"), vectors.order_key("b")):
        assert 590_000 < await redis.pttl(key) <= 600_000
    await vectors.add("c", "k", random_unit(1), clock.now + 30)
    await vectors.add("c", "k2", random_unit(2), clock.now + 600)
    assert 590_000 < await redis.pttl(vectors.hash_key("c")) <= 600_000


async def test_a_full_bucket_drops_expired_entries_then_the_one_closest_to_expiry(client, redis, clock):
    vectors = index(client, clock, per_bucket=3)
    units = [random_unit(seed) for seed in range(5)]
    await vectors.add("b", "gone", units[0], clock.now + 5)
    await vectors.add("b", "soonest", units[1], clock.now + 50)
    await vectors.add("b", "later", units[2], clock.now + 60)
    clock.now += 10
    await vectors.add("b", "k3", units[3], clock.now + 60)  # takes the expired entry's room
    assert sorted(await redis.hkeys(vectors.hash_key("b"))) == [b"k3", b"later", b"soonest"]
    await vectors.add("b", "k4", units[4], clock.now + 60)  # full: the one closest to expiry goes
    assert sorted(await redis.hkeys(vectors.hash_key("b"))) == [b"k3", b"k4", b"later"]
    assert sorted(await redis.zrange(vectors.order_key("b"), 0, -1)) == [b"k3", b"k4", b"later"]


async def test_the_entry_just_stored_stays_even_when_it_expires_first(client, redis, clock):
    vectors = index(client, clock, per_bucket=2)
    units = [random_unit(seed) for seed in range(3)]
    await vectors.add("b", "k0", units[0], clock.now + 600)
    await vectors.add("b", "k1", units[1], clock.now + 600)
    await vectors.add("b", "brief", units[2], clock.now + 10)
    assert sorted(await redis.hkeys(vectors.hash_key("b"))) == [b"brief", b"k1"]


async def test_storing_a_key_again_replaces_its_vector(client, redis, clock):
    vectors = index(client, clock, per_bucket=2)
    old, new = random_unit(1), random_unit(2)
    await vectors.add("b", "k", old, clock.now + 60)
    await vectors.add("b", "k", new, clock.now + 60)
    assert await redis.hlen(vectors.hash_key("b")) == 1
    assert await vectors.search("b", old, 0.9) is None
    assert (await vectors.search("b", new, 0.9)).key == "k"


async def test_removed_entries_are_not_found(client, redis, clock):
    vectors = index(client, clock)
    question = random_unit(1)
    await vectors.add("b", "k", question, clock.now + 60)
    await vectors.remove("b", "k")
    assert await vectors.search("b", question, 0.5) is None
    assert await redis.zcard(vectors.order_key("b")) == 0


async def test_entries_of_other_dimensions_are_skipped(client, redis, clock):
    vectors = index(client, clock)
    question = random_unit(1)
    await redis.hset(vectors.hash_key("b"), "short", encode_record(unit_vector(np.ones(8)), clock.now + 60))
    await redis.hset(vectors.hash_key("b"), "junk", b"xyz")
    await vectors.add("b", "k", question, clock.now + 60)
    assert (await vectors.search("b", question, 0.9)).key == "k"


async def test_skipped_entries_never_shift_which_key_is_found(client, redis, clock):
    vectors = index(client, clock)
    bucket = "mixed-dimensions"  # a fresh hash: fields come back in the order written
    question = random_unit(1)
    await redis.hset(vectors.hash_key(bucket), "short", encode_record(unit_vector(np.ones(8)), clock.now + 60))
    await vectors.add(bucket, "far", random_unit(2), clock.now + 60)
    await vectors.add(bucket, "hit", question, clock.now + 60)
    assert (await vectors.search(bucket, question, 0.9)).key == "hit"


async def test_concurrent_stores_from_many_gateways_keep_the_bound(redis_server, clock):
    clients = [RedisClient(redis_server.url) for _ in range(4)]
    redis = aioredis.Redis.from_url(redis_server.url)
    try:
        gateways = [index(client, clock, per_bucket=5) for client in clients]
        await asyncio.gather(
            *(
                gateway.add("b", f"g{number}-k{entry}", random_unit(number * 100 + entry), clock.now + 60 + entry)
                for number, gateway in enumerate(gateways)
                for entry in range(20)
            )
        )
        entries = await redis.hgetall(gateways[0].hash_key("b"))
        assert len(entries) == 5
        assert all(len(value) == 8 + 4 * 32 for value in entries.values())
    finally:
        for client in clients:
            await client.close()
        await redis.aclose()


async def test_the_script_is_loaded_again_after_a_server_restart(client, redis, clock):
    vectors = index(client, clock)
    await vectors.add("b", "k", random_unit(1), clock.now + 60)
    await redis.script_flush()
    await vectors.add("b", "k2", random_unit(2), clock.now + 60)
    assert await redis.hlen(vectors.hash_key("b")) == 2
