"""The semantic cache's vectors in Redis, shared by a fleet.

Redis 7.0 (Debian bookworm's) has no vector search, so each bucket is one hash, read
whole in one round trip (``HGETALL``) and scored in the gateway with numpy; the
bucket's bound (``per_bucket``, e.g. 64 entries of 1536 float32s: 400 kB a lookup)
keeps that round trip small. Field: the cached answer's key; value: the entry's
expiry time and vector (:mod:`.vectors`). The hash expires with its longest-lived
entry (``PEXPIRE``, Redis's own TTL), expired entries are skipped when scored and
dropped when the bucket is full, and then the entry closest to expiry (the oldest,
for equal ``max_age``) makes room: one script call, atomic across gateways.

A fleet with many similar requests per bucket, or larger vectors, wants real vector
search instead: Redis Stack / Redis 8 (``FT.SEARCH`` with a ``VECTOR`` field), or
PostgreSQL with pgvector; neither is packaged here (see README.rst).
"""

from __future__ import annotations

import hashlib
import time

import numpy as np
import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

from .memory_index import Match
from .vectors import decode_records, encode_record

# KEYS[1]: the bucket's hash. ARGV: field, value, ttl (ms), bound, now (s).
ADD_SCRIPT = """
local bucket = KEYS[1]
redis.call('HSET', bucket, ARGV[1], ARGV[2])
local bound = tonumber(ARGV[4])
if redis.call('HLEN', bucket) > bound then
  local now = tonumber(ARGV[5])
  local all = redis.call('HGETALL', bucket)
  local live = {}
  for i = 1, #all, 2 do
    local value = all[i + 1]
    local at = -1
    if #value >= 8 then at = struct.unpack('<d', value) end
    if at <= now then
      redis.call('HDEL', bucket, all[i])
    elseif all[i] ~= ARGV[1] then
      table.insert(live, {at, all[i]})
    end
  end
  local extra = #live + 1 - bound
  if extra > 0 then
    table.sort(live, function(a, b) return a[1] < b[1] end)
    for i = 1, extra do redis.call('HDEL', bucket, live[i][2]) end
  end
end
local ttl = tonumber(ARGV[3])
if redis.call('PTTL', bucket) < ttl then redis.call('PEXPIRE', bucket, ttl) end
return 1
"""


class RedisVectorIndex:
    """Buckets as Redis hashes; every method may raise ``redis.exceptions.RedisError``
    (or a timeout), which the caller answers as a miss."""

    def __init__(self, redis: aioredis.Redis, *, per_bucket: int, prefix: str = "gw:sc:v:", clock=time.time) -> None:
        self._redis = redis
        self.per_bucket = per_bucket
        self.prefix = prefix
        self._clock = clock
        self._sha = hashlib.sha1(ADD_SCRIPT.encode()).hexdigest()

    def _key(self, bucket: str) -> str:
        return self.prefix + bucket

    async def search(self, bucket: str, vector: np.ndarray, threshold: float) -> Match | None:
        entries = await self._redis.hgetall(self._key(bucket))
        if not entries:
            return None
        fields = list(entries)
        records = decode_records(entries.values(), vector.shape[0])
        if len(records) != len(fields):  # some written for other dimensions: keep the rest aligned
            size = records.dtype.itemsize
            fields = [field for field, value in entries.items() if len(value) == size]
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
        args = (key, encode_record(vector, expires_at), ttl_ms, self.per_bucket, repr(now))
        try:
            await self._redis.evalsha(self._sha, 1, self._key(bucket), *args)
        except NoScriptError:
            await self._redis.eval(ADD_SCRIPT, 1, self._key(bucket), *args)

    async def remove(self, bucket: str, key: str) -> None:
        await self._redis.hdel(self._key(bucket), key)
