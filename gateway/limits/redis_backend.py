"""Counters in Redis, exact across a fleet: one server-side script call per operation.

``admit`` is one ``EVALSHA`` of :data:`CHECK_SCRIPT` (read every counter, refuse or charge
them all; Redis runs a script alone, so concurrent gateways cannot interleave); the
charges after the answers are batched (:meth:`.LimitCounters.charge_soon`) into one
``EVALSHA`` of :data:`ADD_SCRIPT` per batch. Commands go through the worker's one
:mod:`gateway.redis_client` (the response cache's too), which writes every command of
one event-loop turn in one send: a busy worker's admits and its batch of charges share
a round trip. Scripts are sent by their
SHA-1 and loaded again when the server answers ``NOSCRIPT`` (after a restart or a
``SCRIPT FLUSH``). Every counter carries an ``EXPIREAT`` a little after its window or
period ends; daily usage is kept for ``USAGE_RETENTION_DAYS``.

One script touches the keys of several API/virtual keys, so this needs a standalone
Redis (or a primary with replicas / Sentinel), not Redis Cluster. Nothing is retried:
a check-and-charge whose reply was lost may have charged, and a second try could charge
twice.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from ..redis_client import RedisClient, RedisUnavailable, ReplyError, encode
from .counters import Add, Check, CountersUnavailable, DailyAdd, LimitCounters

# KEYS: the counters. ARGV: limit, charge, expire_at (0: never) for each.
CHECK_SCRIPT = """
local n = #KEYS
local used = redis.call('MGET', unpack(KEYS))
local blocked = -1
for i = 1, n do
  local cur = tonumber(used[i]) or 0
  used[i] = cur
  local limit = tonumber(ARGV[3 * i - 2])
  local charge = tonumber(ARGV[3 * i - 1])
  if blocked < 0 and ((charge > 0 and cur + charge > limit) or (charge == 0 and cur >= limit)) then
    blocked = i - 1
  end
end
if blocked < 0 then
  for i = 1, n do
    local charge = tonumber(ARGV[3 * i - 1])
    if charge > 0 then
      used[i] = redis.call('INCRBY', KEYS[i], charge)
      local expire_at = tonumber(ARGV[3 * i])
      if used[i] == charge and expire_at > 0 then redis.call('EXPIREAT', KEYS[i], expire_at) end
    end
  end
end
table.insert(used, 1, blocked)
return used
"""

# KEYS: n counters, then one usage hash per day entry.
# ARGV: n; amount, expire_at per counter; then per hash: expire_at, field count m, m field/amount pairs.
ADD_SCRIPT = """
local n = tonumber(ARGV[1])
local out = {}
for i = 1, n do
  local amount = tonumber(ARGV[2 * i])
  local expire_at = tonumber(ARGV[2 * i + 1])
  out[i] = redis.call('INCRBY', KEYS[i], amount)
  if out[i] == amount and expire_at > 0 then redis.call('EXPIREAT', KEYS[i], expire_at) end
end
local at = 2 * n + 2
for h = n + 1, #KEYS do
  local expire_at = ARGV[at]
  local m = tonumber(ARGV[at + 1])
  at = at + 2
  for j = 1, m do
    redis.call('HINCRBY', KEYS[h], ARGV[at], ARGV[at + 1])
    at = at + 2
  end
  redis.call('EXPIREAT', KEYS[h], expire_at)
end
return out
"""


class RedisCounters(LimitCounters):
    bounds_its_calls = True  # the client's timer per write (gateway/redis_client.py)

    def __init__(self, redis: RedisClient | str, *, prefix: str = "gw:", **policy) -> None:
        """``redis``: the app's shared client (closed by its owner), or a URL for a
        client of this object's own (the CLI, tests)."""
        super().__init__(**policy)
        self.prefix = prefix
        self._owns_client = isinstance(redis, str)
        self._redis = RedisClient(redis, timeout=self.timeout) if isinstance(redis, str) else redis
        self._scripts = {text: hashlib.sha1(text.encode()).hexdigest() for text in (CHECK_SCRIPT, ADD_SCRIPT)}
        # The encoded check command per plan (a plan's counters and limits hold for its minute).
        self._commands: dict[int, tuple[Sequence[Check], bytes]] = {}

    async def _close_backend(self) -> None:
        if self._owns_client:
            await self._redis.close()

    async def _eval(self, script: str, keys: Sequence[str], args: Sequence[int | str]):
        try:
            try:
                return await self._redis.call("EVALSHA", self._scripts[script], len(keys), *keys, *args, timeout=self.timeout)
            except ReplyError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                await self._redis.call("SCRIPT", "LOAD", script, timeout=self.timeout)
                return await self._redis.call("EVALSHA", self._scripts[script], len(keys), *keys, *args, timeout=self.timeout)
        except RedisUnavailable as exc:
            raise CountersUnavailable(f"redis: {exc}") from exc

    async def _check(self, checks: Sequence[Check]) -> tuple[int, list[int]]:
        cached = self._commands.get(id(checks))
        if cached is None or cached[0] is not checks:
            if len(self._commands) >= 4096:
                self._commands.clear()
            args: list[int | str] = ["EVALSHA", self._scripts[CHECK_SCRIPT], len(checks)]
            args += [self.prefix + check.key for check in checks]
            for check in checks:
                args += [check.limit, check.charge, check.expire_at or 0]
            cached = self._commands[id(checks)] = (checks, encode(tuple(args)))
        try:
            try:
                reply = await self._redis.call_encoded(cached[1], self.timeout)
            except ReplyError as exc:
                if not str(exc).startswith("NOSCRIPT"):
                    raise
                await self._redis.call("SCRIPT", "LOAD", CHECK_SCRIPT, timeout=self.timeout)
                reply = await self._redis.call_encoded(cached[1], self.timeout)
        except RedisUnavailable as exc:
            raise CountersUnavailable(f"redis: {exc}") from exc
        return reply[0], reply[1:]  # integers already

    async def _add(self, adds: Sequence[Add], daily: Sequence[DailyAdd]) -> list[int]:
        keys = [self.prefix + add.key for add in adds]
        args: list[int | str] = [len(adds)]
        for add in adds:
            args += [add.amount, add.expire_at or 0]
        for entry in daily:
            keys.append(self._usage_key(entry.scope, entry.day))
            args += [entry.expire_at, len(entry.amounts)]
            for name, amount in entry.amounts:
                args += [name, amount]
        reply = await self._eval(ADD_SCRIPT, keys, args)
        return [int(value) for value in reply]

    async def _read_usage(self, scope: str, days: Sequence[str]) -> dict[str, dict[str, int]]:
        try:  # sent in one write (one event-loop turn)
            replies = await asyncio.gather(*(self._redis.call("HGETALL", self._usage_key(scope, day), timeout=self.timeout) for day in days))
        except RedisUnavailable as exc:
            raise CountersUnavailable(f"redis: {exc}") from exc
        return {
            day: {reply[i].decode(): int(reply[i + 1]) for i in range(0, len(reply), 2)}
            for day, reply in zip(days, replies, strict=True)
            if reply
        }

    def _usage_key(self, scope: str, day: str) -> str:
        return f"{self.prefix}us:{scope}:{day}"
