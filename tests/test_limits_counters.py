"""The counters, exact across OS processes, on the embedded file and on a real redis-server."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.limits.counters import Subject
from gateway.limits.embedded import EmbeddedCounters
from gateway.limits.model import parse_limits
from tests.redis_server import RedisServer

# Mid-minute, mid-month, on a Wednesday: no window or period ends during a test; in the
# future, so the purge of expired counters (by the wall clock) leaves them alone.
NOW = datetime(2030, 11, 13, 12, 30, 20, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class Usage:
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


def subject(scope="key-1", rate_limits=None, usage_limits=None) -> Subject:
    return Subject(scope, parse_limits(rate_limits, usage_limits))


def rpm(value: int) -> list[dict]:
    return [{"type": "requests", "unit": "rpm", "value": value}]


@pytest.fixture(params=["embedded", "redis"])
async def backend(request, tmp_path, unused_tcp_port):
    """``(make_counters(**policy), spec for tests.limits_load)`` for each backend."""
    opened = []
    server = None
    if request.param == "redis":
        server = RedisServer(tmp_path, unused_tcp_port)
        await server.start()
        from gateway.limits.redis_backend import RedisCounters

        spec = {"backend": "redis", "url": server.url}

        def make(**policy):
            opened.append(RedisCounters(server.url, **policy))
            return opened[-1]
    else:
        spec = {"backend": "embedded", "path": str(tmp_path / "state" / "limits.sqlite3")}

        def make(**policy):
            opened.append(EmbeddedCounters(spec["path"], **policy))
            return opened[-1]

    yield make, spec
    for counters in opened:
        await counters.close()
    if server is not None:
        await server.stop()


async def run_load(spec: dict, processes: int) -> list[dict]:
    """Start the load processes, let them all connect, then release them at once."""
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.limits_load", json.dumps(spec),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    try:
        for worker in workers:
            assert await asyncio.wait_for(worker.stdout.readline(), timeout=30) == b"ready\n"
        for worker in workers:
            worker.stdin.write(b"go\n")
            await worker.stdin.drain()
        results = [json.loads(await asyncio.wait_for(worker.stdout.readline(), timeout=30)) for worker in workers]
        for worker in workers:
            assert await asyncio.wait_for(worker.wait(), timeout=30) == 0
        return results
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
                await worker.wait()


@pytest.mark.timeout(120)
async def test_exactly_the_limit_is_admitted_from_four_processes(backend):
    _, spec = backend
    limit = 50
    spec = {**spec, "mode": "requests", "scope": "exact", "rate_limits": rpm(limit), "calls": limit, "now": NOW}
    results = await run_load(spec, processes=4)  # 4 × L concurrent check-and-charge calls
    assert sum(result["allowed"] for result in results) == limit
    assert sum(result["unavailable"] for result in results) == 0


@pytest.mark.timeout(120)
async def test_token_budget_overshoot_is_bounded_by_the_tokens_in_flight(backend):
    make, spec = backend
    limit, tokens, processes, tasks = 2_000, 70, 3, 4
    in_flight = processes * tasks  # at most this many requests between check and charge
    usage_limits = {"token_limit": limit, "periodic_reset": "monthly"}
    spec = {**spec, "mode": "tokens", "scope": "budget", "usage_limits": usage_limits, "tokens": tokens,
            "tasks": tasks, "now": NOW}
    results = await run_load(spec, processes)
    admitted = sum(result["admitted"] for result in results)
    counters = make()
    [day] = await counters.usage("budget", "2030-11-13", "2030-11-13")
    used = day.input + day.output
    assert used == admitted * tokens  # nothing lost between processes
    assert limit <= used <= limit - 1 + in_flight * tokens
    decision = await counters.tokens_available([subject("budget", usage_limits=usage_limits)], now=NOW)
    assert not decision.allowed and decision.reason == "budget_exhausted"
    assert decision.blocked_by.used == used and decision.blocked_by.remaining == 0


async def test_a_window_resets_at_the_next_minute(backend):
    make, _ = backend
    counters = make()
    key = [subject(rate_limits=rpm(2))]
    minute_end = NOW - NOW % 60 + 60
    assert (await counters.check_and_charge_requests(key, now=NOW)).allowed
    second = await counters.check_and_charge_requests(key, now=NOW + 1)
    assert second.allowed and second.states[0].remaining == 0
    refused = await counters.check_and_charge_requests(key, now=minute_end - 0.25)
    assert not refused.allowed and refused.reason == "rate_limited"
    assert refused.retry_after() == pytest.approx(0.25)
    assert refused.blocked_by.used == 2  # a refusal charges nothing
    fresh = await counters.check_and_charge_requests(key, now=minute_end)
    assert fresh.allowed and fresh.states[0].used == 1


async def test_all_or_nothing_across_a_key_and_a_virtual_key(backend):
    make, _ = backend
    counters = make()
    api_key = subject("api-key:a", rate_limits=rpm(10))
    virtual_key = subject("virtual-key:v", rate_limits=rpm(1))
    assert (await counters.check_and_charge_requests([api_key, virtual_key], now=NOW)).allowed
    refused = await counters.check_and_charge_requests([api_key, virtual_key], now=NOW)
    assert refused.blocked_by.scope == "virtual-key:v"
    # The API key was not charged for the refused request.
    alone = await counters.check_and_charge_requests([api_key], now=NOW)
    assert alone.states[0].used == 2


async def test_credit_budget_charges_cost_and_reports_usage_per_day(backend, caplog):
    make, _ = backend
    counters = make()
    key = [subject(usage_limits={"credit_limit": "0.01", "alert_threshold": "0.006", "token_limit": 10_000})]
    usage = Usage(input=1_000, cache_read=200, output=300, reasoning=100)
    with caplog.at_level(logging.WARNING, "gateway.limits"):
        first = await counters.charge_usage(key, usage, Decimal("0.004"), now=NOW)
        second = await counters.charge_usage(key, usage, Decimal("0.004"), now=NOW)
        await counters.charge_usage(key, usage, None, now=NOW + 86400)
    assert first == () and len(second) == 1 and second[0].spent == Decimal("0.008")
    assert [r.message for r in caplog.records].count("usage alert threshold crossed") == 1
    assert "usage without a price: tokens counted, cost unknown" in caplog.text
    refused = await counters.admit(key, now=NOW)
    assert refused.allowed  # 0.008 of 0.01 USD spent: something is left
    await counters.charge_usage(key, usage, Decimal("0.0025"), now=NOW)
    refused = await counters.admit(key, now=NOW)
    assert not refused.allowed and refused.reason == "budget_exhausted"
    assert refused.blocked_by.type == "credit" and refused.blocked_by.used == Decimal("0.0105")
    days = await counters.usage("key-1", "2030-11-13", "2030-11-15")
    assert [(d.day, d.requests, d.input, d.output, d.cache_read, d.reasoning, d.cost, d.unpriced) for d in days] == [
        ("2030-11-13", 3, 3_000, 900, 600, 300, Decimal("0.0105"), 0),
        ("2030-11-14", 1, 1_000, 300, 200, 100, Decimal(0), 1),
        ("2030-11-15", 0, 0, 0, 0, 0, Decimal(0), 0),
    ]


async def test_a_credit_limit_refuses_a_model_without_a_price(backend):
    make, _ = backend
    counters = make()
    decision = await counters.admit([subject(usage_limits={"credit_limit": 5})], priced=False, now=NOW)
    assert not decision.allowed and decision.reason == "model_price_unknown"
    # Without a credit limit an unpriced model is let through (its tokens are counted).
    assert (await counters.admit([subject(usage_limits={"token_limit": 5})], priced=False, now=NOW)).allowed


async def test_keys_without_limits_cost_no_round_trip(backend):
    make, _ = backend
    counters = make()

    async def fail(*_):
        raise AssertionError("no round trip expected")

    counters._check = fail
    assert (await counters.admit([subject()], now=NOW)).allowed


async def test_embedded_counters_are_shared_by_a_reopened_file_and_created_private(tmp_path):
    path = tmp_path / "state" / "limits.sqlite3"
    first = EmbeddedCounters(path)
    assert (await first.check_and_charge_requests([subject(rate_limits=rpm(1))], now=NOW)).allowed
    await first.close()
    second = EmbeddedCounters(path)  # a restart, or a reload's new generation
    assert not (await second.check_and_charge_requests([subject(rate_limits=rpm(1))], now=NOW)).allowed
    await second.close()
    assert path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "state").stat().st_mode & 0o777 == 0o700


async def test_charge_soon_outlives_a_cancelled_request_and_close_waits_for_it(backend):
    make, _ = backend
    counters = make()
    key = [subject(usage_limits={"token_limit": 1000})]
    started = asyncio.Event()

    async def handler():
        started.set()
        counters.charge_soon(key, Usage(input=40, output=2), Decimal("0.01"))
        await asyncio.Event().wait()  # the stream goes on until the client hangs up

    request = asyncio.ensure_future(handler())
    await started.wait()
    request.cancel()
    await counters.close()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    reopened = make()
    [day] = await reopened.usage("key-1", today, today)
    assert (day.requests, day.input, day.output, day.cost) == (1, 40, 2, Decimal("0.01"))


def _count_in_a_forked_child(counters: EmbeddedCounters, results) -> None:
    results.put("calling")
    decision = asyncio.run(counters.check_and_charge_requests([subject(rate_limits=rpm(5))], now=NOW))
    results.put(decision.states[0].used)


def test_embedded_counters_opened_before_a_fork_exclude_each_other_in_child_and_parent(tmp_path):
    import multiprocessing
    import queue
    import warnings

    counters = EmbeddedCounters(tmp_path / "limits.sqlite3")
    asyncio.run(counters.check_and_charge_requests([subject(rate_limits=rpm(5))], now=NOW))
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    child = context.Process(target=_count_in_a_forked_child, args=(counters, results))
    with counters._locked():  # the parent is mid-transaction
        with warnings.catch_warnings():  # Python 3.12+ warns about forking a threaded process
            warnings.simplefilter("ignore", DeprecationWarning)
            child.start()
        assert results.get(timeout=30) == "calling"
        # An inherited lock (same open file) would let the child through at once.
        with pytest.raises(queue.Empty):
            results.get(timeout=1)
    assert results.get(timeout=30) == 2
    child.join(timeout=30)
    assert child.exitcode == 0
    after = asyncio.run(counters.check_and_charge_requests([subject(rate_limits=rpm(5))], now=NOW))
    assert after.states[0].used == 3
    asyncio.run(counters.close())


def test_an_unusable_embedded_file_is_one_clear_error(tmp_path):
    from gateway.limits.counters import CountersUnavailable

    (tmp_path / "file").write_text("")
    with pytest.raises(CountersUnavailable, match="cannot open .*file/limits.sqlite3"):
        EmbeddedCounters(tmp_path / "file" / "limits.sqlite3")


async def test_a_spent_token_window_refuses_without_charging_the_request_limit(backend):
    make, _ = backend
    counters = make()
    key = [subject(rate_limits=[*rpm(10), {"type": "tokens", "unit": "rpm", "value": 100}])]
    assert (await counters.admit(key, now=NOW)).allowed
    await counters.charge_usage(key, Usage(input=90, output=30), None, now=NOW)
    refused = await counters.admit(key, now=NOW)
    assert refused.reason == "rate_limited"
    assert (refused.blocked_by.type, refused.blocked_by.used, refused.blocked_by.remaining) == ("tokens", 120, 0)
    next_minute = await counters.admit(key, now=NOW + 60)
    assert next_minute.allowed
    assert [(s.type, s.used) for s in next_minute.states] == [("requests", 1), ("tokens", 0)]
    # The refused request was not charged to the request window.
    assert (await counters.admit(key, now=NOW)).states[0].used == 1


async def test_charges_ending_together_are_written_in_one_call_and_close_writes_the_queue(backend):
    make, _ = backend
    counters = make()
    key = [subject(rate_limits=[{"type": "tokens", "unit": "rpd", "value": 10**9}],
                   usage_limits={"token_limit": 10**9, "credit_limit": 100})]
    writes = []
    write = counters._add

    async def counted(adds, daily):
        writes.append(len(adds))
        return await write(adds, daily)

    counters._add = counted
    for _ in range(50):  # fifty answers ending in one event-loop turn
        counters.charge_soon(key, Usage(input=3, output=4), Decimal("0.001"))
    await counters.flush()
    assert writes == [3]  # one call: the token window, the token budget and the credit budget, each summed
    counters.charge_soon(key, Usage(input=1), Decimal("0.001"))
    await counters.close()  # a draining worker: the queued charge is written, not lost
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    reopened = make()
    [day] = await reopened.usage("key-1", today, today)
    assert (day.requests, day.input, day.output, day.cost) == (51, 151, 200, Decimal("0.051"))
    decision = await reopened.admit(key)
    assert [state.used for state in decision.states] == [351, 351, Decimal("0.051")]


async def test_a_budget_spent_exactly_to_its_limit_refuses_the_next_request(backend):
    make, _ = backend
    counters = make()
    key = [subject(usage_limits={"token_limit": 100, "periodic_reset": "monthly"})]
    await counters.charge_usage(key, Usage(input=90, output=9), None, now=NOW)
    assert (await counters.admit(key, now=NOW)).allowed  # 99 of 100: one token left
    await counters.charge_usage(key, Usage(output=1), None, now=NOW)
    refused = await counters.admit(key, now=NOW)
    assert not refused.allowed and refused.reason == "budget_exhausted"
    assert (refused.blocked_by.used, refused.blocked_by.remaining) == (100, 0)


async def test_an_alert_threshold_without_a_credit_limit_still_counts_spend_and_alerts(backend):
    make, _ = backend
    counters = make()
    key = [subject(usage_limits={"alert_threshold": "0.005", "periodic_reset": "monthly"})]
    assert await counters.charge_usage(key, Usage(input=10), Decimal("0.003"), now=NOW) == ()
    [crossed] = await counters.charge_usage(key, Usage(input=10), Decimal("0.003"), now=NOW)
    assert (crossed.scope, crossed.threshold, crossed.spent) == ("key-1", Decimal("0.005"), Decimal("0.006"))
    assert await counters.charge_usage(key, Usage(input=10), Decimal("0.003"), now=NOW) == ()  # once a period


async def test_every_counter_in_redis_expires_after_its_window_or_period(tmp_path, unused_tcp_port):
    from gateway.limits.redis_backend import RedisCounters
    from gateway.redis_client import RedisClient

    server = RedisServer(tmp_path, unused_tcp_port)
    await server.start()
    counters = RedisCounters(server.url)
    raw = RedisClient(server.url)
    try:
        key = [subject(rate_limits=[*rpm(10), {"type": "tokens", "unit": "rph", "value": 1000}],
                       usage_limits={"token_limit": 10_000, "credit_limit": 5, "periodic_reset": "weekly"})]
        assert (await counters.admit(key, now=NOW)).allowed
        await counters.charge_usage(key, Usage(input=10, output=5), Decimal("0.001"), now=NOW)
        keys = sorted(k.decode() for k in await raw.call("KEYS", "*"))
        expiry = {k: await raw.call("EXPIRETIME", k) for k in keys}
        minute_end, hour_end = NOW - NOW % 60 + 60, NOW - NOW % 3600 + 3600
        week_end = datetime(2030, 11, 18, tzinfo=UTC).timestamp()  # NOW is a Wednesday
        rate = {k: v for k, v in expiry.items() if ":rl:" in k}
        budgets = {k: v for k, v in expiry.items() if ":bu:" in k}
        usage = {k: v for k, v in expiry.items() if ":us:" in k}
        assert len(rate) == 2 and len(budgets) == 2 and len(usage) == 1 and len(expiry) == 5
        # Not before its window ends (that would reset it early), and not never (Redis would fill up).
        assert sorted(rate.values()) == [minute_end + 3600, hour_end + 3600]
        assert set(budgets.values()) == {week_end + 3600}
        assert list(usage.values()) == [int(NOW) + 400 * 86400]
    finally:
        await raw.close()
        await counters.close()
        await server.stop()


async def test_charges_made_while_a_batch_is_written_are_written_next(backend):
    make, _ = backend
    counters = make()
    key = [subject(usage_limits={"token_limit": 10**6})]
    writing, release = asyncio.Event(), asyncio.Event()
    write = counters._add

    async def held(adds, daily):
        writing.set()
        await release.wait()
        return await write(adds, daily)

    counters._add = held
    counters.charge_soon(key, Usage(input=1), None)
    await writing.wait()
    counters.charge_soon(key, Usage(input=2), None)  # an answer ending while the first batch is written
    release.set()
    await counters.flush()
    assert (await counters.admit(key)).states[0].used == 3
