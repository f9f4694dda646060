"""Redis down or hung: the on-failure policies, a throttled loud log line, nothing hangs."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from gateway.limits.counters import CountersUnavailable, Subject
from gateway.limits.model import parse_limits
from gateway.limits.redis_backend import RedisCounters
from tests.redis_server import RedisServer

NOW = datetime(2030, 11, 13, 12, 30, 20, tzinfo=UTC).timestamp()
RATE_LIMITED = [Subject("rated", parse_limits([{"type": "requests", "unit": "rpm", "value": 100}]))]
BUDGETED = [Subject("budgeted", parse_limits(None, {"credit_limit": 10, "periodic_reset": "monthly"}))]
UNAVAILABLE = "limit counters unavailable: rate limits fail %s, budgets fail %s"


class Usage:
    input, output, cache_read, cache_write, reasoning = 10, 5, 0, 0, 0


@pytest.fixture
async def make_counters(redis_server):
    opened = []

    def make(**policy):
        opened.append(RedisCounters(redis_server.url, timeout=0.3, **policy))
        return opened[-1]

    yield make
    for counters in opened:
        await counters.close()


def unavailable_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.msg == UNAVAILABLE]


async def test_killed_server_rate_limits_fail_open_and_budgets_closed_by_default(redis_server, make_counters, caplog):
    counters = make_counters()
    assert (await counters.admit(RATE_LIMITED, now=NOW)).allowed
    assert (await counters.admit(BUDGETED, now=NOW)).allowed
    await redis_server.kill()
    with caplog.at_level(logging.ERROR, "gateway.limits"):
        rated = await asyncio.wait_for(counters.admit(RATE_LIMITED, now=NOW), timeout=5)
        budgeted = await asyncio.wait_for(counters.admit(BUDGETED, now=NOW), timeout=5)
        both = await asyncio.wait_for(counters.admit(RATE_LIMITED + BUDGETED, now=NOW), timeout=5)
        assert await asyncio.wait_for(counters.charge_usage(BUDGETED, Usage(), None, now=NOW), timeout=5) == ()
    assert rated.allowed and rated.unavailable
    assert not budgeted.allowed and budgeted.reason == "limits_unavailable"
    assert not both.allowed
    # Loud, but one line for four failures within LOG_EVERY seconds.
    [line] = unavailable_lines(caplog)
    assert line.getMessage() == "limit counters unavailable: rate limits fail open, budgets fail closed"
    assert line.fields["operation"] == "admit" and line.fields["error"]
    with pytest.raises(CountersUnavailable):
        await asyncio.wait_for(counters.usage("rated", "2030-11-13", "2030-11-13"), timeout=5)


async def test_the_policies_can_be_turned_around(redis_server, make_counters):
    counters = make_counters(rate_limits_on_failure="closed", budgets_on_failure="open")
    await redis_server.kill()
    rated = await asyncio.wait_for(counters.admit(RATE_LIMITED, now=NOW), timeout=5)
    budgeted = await asyncio.wait_for(counters.admit(BUDGETED, now=NOW), timeout=5)
    assert not rated.allowed and rated.reason == "limits_unavailable"
    assert budgeted.allowed and budgeted.unavailable


async def test_a_hung_server_is_given_up_on_after_the_timeout(redis_server, make_counters):
    counters = make_counters()
    assert (await counters.admit(RATE_LIMITED, now=NOW)).allowed  # the connection is open
    redis_server.pause()
    try:
        # Bounded by limits_timeout (0.3 s); without it the call waits for the server for ever.
        rated = await asyncio.wait_for(counters.admit(RATE_LIMITED, now=NOW), timeout=5)
        budgeted = await asyncio.wait_for(counters.admit(BUDGETED, now=NOW), timeout=5)
        await asyncio.wait_for(counters.charge_usage(RATE_LIMITED, Usage(), None, now=NOW), timeout=5)
    finally:
        redis_server.resume()
    assert rated.allowed and rated.unavailable
    assert not budgeted.allowed


async def test_counting_resumes_when_redis_comes_back_with_its_scripts_gone(tmp_path, redis_server, make_counters):
    counters = make_counters()
    assert (await counters.admit(RATE_LIMITED, now=NOW)).states[0].used == 1
    await redis_server.kill()
    assert (await counters.admit(RATE_LIMITED, now=NOW)).unavailable
    restarted = RedisServer(tmp_path, redis_server.port)  # empty: no counters, no scripts
    await restarted.start()
    try:
        decision = await asyncio.wait_for(counters.admit(RATE_LIMITED, now=NOW), timeout=5)
        assert decision.allowed and not decision.unavailable and decision.states[0].used == 1
    finally:
        await restarted.stop()


def test_a_missing_redis_server_fails_under_ci_and_skips_elsewhere(monkeypatch):
    import os
    import shutil

    from tests.redis_server import redis_server_binary

    monkeypatch.setattr(shutil, "which", lambda _name: None)
    monkeypatch.setattr(os.path, "exists", lambda _path: False)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="redis-server is not installed"):
        redis_server_binary()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="redis-server is not installed"):
        redis_server_binary()
