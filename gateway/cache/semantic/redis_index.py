"""The semantic cache's vectors in Redis, shared by a fleet.

Redis 7.0 (Debian bookworm's) has no vector search, so each bucket is one hash, read
whole in one round trip (``HGETALL``) and scored in the gateway with numpy; the
bucket's bound (``per_bucket``, e.g. 64 entries of 1536 float32s: 400 kB a lookup)
keeps that round trip small. Field: the cached answer's key; value: the entry's
expiry time and vector (:mod:`.vectors`). Beside it a sorted set orders the fields
by expiry, so that storing never reads the vectors: one script call, atomic across
gateways, adds the entry, drops the expired ones, and, past the bound, the ones
closest to expiry (the oldest, for equal ``max_age``). Both keys expire with the
longest-lived entry (``PEXPIRE``, Redis's own TTL); expired entries still in the
hash are skipped when scored.

A fleet with many similar requests per bucket, or larger vectors, wants real vector
search instead: Redis Stack / Redis 8 (``FT.SEARCH`` with a ``VECTOR`` field), or
PostgreSQL with pgvector; neither is packaged here (see docs/caching.rst).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from ...redis_client import RedisClient, Script
from .memory_index import Match
from .vectors import decode_records, encode_record

# KEYS: the bucket's hash, its order (a sorted set: field → expiry time).
# ARGV: field, value, ttl (ms), bound, now (s), expiry time (s).
ADD_SCRIPT = """
local hash, order, field = KEYS[1], KEYS[2], ARGV[1]
redis.call('HSET', hash, field, ARGV[2])
redis.call('ZADD', order, ARGV[6], field)
local gone = redis.call('ZRANGEBYSCORE', order, '-inf', ARGV[5])
if #gone > 0 then
  redis.call('HDEL', hash, unpack(gone))
  redis.call('ZREMRANGEBYSCORE', order, '-inf', ARGV[5])
end
local extra = redis.call('ZCARD', order) - tonumber(ARGV[4])
if extra > 0 then
  local dropped = 0
  for _, other in ipairs(redis.call('ZRANGE', order, 0, extra)) do
    if dropped < extra and other ~= field then
      redis.call('HDEL', hash, other)
      redis.call('ZREM', order, other)
      dropped = dropped + 1
    end
  end
end
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', hash) < ttl then
  redis.call('PEXPIRE', hash, ttl)
  redis.call('PEXPIRE', order, ttl)
end
return 1
"""


class RedisVectorIndex:
    """Buckets as Redis hashes, through the worker's one client; every method may raise
    :class:`~gateway.redis_client.RedisUnavailable` or ``TimeoutError`` (past
    ``timeout``), which the caller answers as a miss."""

    def __init__(
        self, redis: RedisClient, *, per_bucket: int, prefix: str = "gw:sc:", clock=time.time, timeout: float | None = None
    ) -> None:
        self._redis = redis
        self.per_bucket = per_bucket
        self.prefix = prefix
        self._clock = clock
        self.timeout = timeout  # each call's bound (--cache-timeout); None: the client's
        self._add_script = Script(ADD_SCRIPT)

    def hash_key(self, bucket: str) -> str:
        # Both keys of a bucket in one hash slot ({...}): the script runs on Redis Cluster too.
        return f"{self.prefix}{{{bucket}}}:v"

    def order_key(self, bucket: str) -> str:
        return f"{self.prefix}{{{bucket}}}:e"

    async def search(self, bucket: str, vector: np.ndarray, threshold: float) -> Match | None:
        reply = await self._redis.call("HGETALL", self.hash_key(bucket), timeout=self.timeout)
        if not reply:
            return None
        fields, values = reply[0::2], reply[1::2]  # field, value, field, value...
        records = decode_records(values, vector.shape[0])
        if len(records) != len(fields):  # some written for other dimensions: keep the rest aligned
            size = records.dtype.itemsize
            fields = [field for field, value in zip(fields, values, strict=True) if len(value) == size]
        if not len(records):
            return None
        scores = records["vector"] @ vector
        scores[records["expires"] <= self._clock()] = -np.inf
        best = int(np.argmax(scores))
        score = float(scores[best])
        if not score >= threshold:
            return None
        field = fields[best]
        return Match(field.decode() if isinstance(field, bytes) else field, score)

    async def add(self, bucket: str, key: str, vector: np.ndarray, expires_at: float) -> None:
        now = self._clock()
        ttl_ms = max(1, int((expires_at - now) * 1000))
        keys = (self.hash_key(bucket), self.order_key(bucket))
        args = (key, encode_record(vector, expires_at), ttl_ms, self.per_bucket, repr(now), repr(expires_at))
        await self._add_script.run(self._redis, keys, args, timeout=self.timeout)

    async def remove(self, bucket: str, key: str) -> None:
        await asyncio.gather(  # one event-loop turn: one write, one round trip
            self._redis.call("HDEL", self.hash_key(bucket), key, timeout=self.timeout),
            self._redis.call("ZREM", self.order_key(bucket), key, timeout=self.timeout),
        )
