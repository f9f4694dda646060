"""Limit counters behind one async interface, shared across workers (and machines).

The wiring calls, per request with limits (``subjects`` = the API key's and the virtual
key's :class:`Subject`, each with its own counters):

1. before the call, ``await counters.admit(subjects, priced=...)``: one round trip that
   charges the request limits (all of them, or none when one refuses) and checks that
   every token window and budget has something left. (:meth:`check_and_charge_requests`
   and :meth:`tokens_available` do each half alone.)
2. after the call, ``counters.charge_soon(subjects, usage, cost)`` (or ``await
   counters.charge_usage(...)``): tokens into the token windows and the token budget,
   cost into the credit budget, and the day's usage; one round trip, never raises;
   ``charge_soon`` runs it in a task that the request's cancellation does not reach and
   that :meth:`close` waits for.
3. ``await counters.usage(scope, first_day, last_day)`` for the admin API and CLI.

**Exactness.** Request limits are exact: check and charge are one atomic step, so L per
window are admitted however many workers and machines ask at once. Token windows and
budgets are checked before the call ("is anything left?") and charged after it, from
the answer's usage, so they can overshoot by the tokens of the requests already in
flight when the limit was reached: with at most C requests in flight for a key, each of
at most T tokens, the count ends at no more than ``limit - 1 + C × T`` (the last request
admitted saw ``used <= limit - 1``; only requests in flight at that moment are charged
after it). Cost is counted in integer nano-dollars (each charge rounded up). Tokens and
cost go into the windows and periods current when the charge is made (the end of the
answer).

**Unknown prices.** ``admit(..., priced=False)`` refuses (``model_price_unknown``) when
any subject has a ``credit_limit``: spend that cannot be metered is never let through.
If an answer's model has no price after all, ``charge_usage(..., cost=None)`` counts its
tokens and an ``unpriced`` request in the day's usage, and logs it.

**Failure.** A backend error or a call slower than ``timeout`` applies the policy:
``rate_limits_on_failure`` for request and token windows (default ``open``: let it
through, with a loud log line at most every ``LOG_EVERY`` seconds), and
``budgets_on_failure`` for budgets (default ``closed``: refuse).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from .decision import BUDGET, RATE, Decision, LimitState
from .model import Limits
from .pricing import UsageLike
from .windows import Window, budget_period, rate_window, utc_day

log = logging.getLogger("gateway.limits")

NANO = Decimal(1_000_000_000)  # cost counters hold nano-USD
USAGE_FIELDS = ("requests", "input", "output", "cache_read", "cache_write", "reasoning", "cost_nano", "unpriced")
# Counters outlive their window by this long (clock skew across a fleet, slow answers).
EXPIRY_SLACK = 3600
# Daily usage is kept this long.
USAGE_RETENTION_DAYS = 400
LOG_EVERY = 10.0
PLAN_CACHE_SIZE = 4096


class CountersUnavailable(Exception):
    """The backend could not answer (down, timed out, disk error)."""


@dataclass(frozen=True)
class Subject:
    """One limited key: ``scope`` names its counters (e.g. ``api-key:<id>``)."""

    scope: str
    limits: Limits


@dataclass(frozen=True, slots=True)
class Check:
    """One counter to check: ``charge`` > 0 admits if ``used + charge <= limit`` and adds it;
    ``charge`` == 0 admits if ``used < limit`` and adds nothing."""

    key: str
    limit: int
    charge: int
    expire_at: int | None


@dataclass(frozen=True)
class Add:
    key: str
    amount: int
    expire_at: int | None


@dataclass(frozen=True)
class DailyAdd:
    scope: str
    day: str
    amounts: tuple[tuple[str, int], ...]  # (field of USAGE_FIELDS, amount)
    expire_at: int


@dataclass(frozen=True)
class DailyUsage:
    scope: str
    day: str
    requests: int = 0
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0
    cost: Decimal = Decimal(0)
    unpriced: int = 0  # requests whose model had no price (cost not counted)

    @classmethod
    def from_counts(cls, scope: str, day: str, counts: dict[str, int]) -> DailyUsage:
        values = {name: int(counts.get(name, 0)) for name in USAGE_FIELDS}
        cost = Decimal(values.pop("cost_nano")) / NANO
        return cls(scope, day, cost=cost, **values)


@dataclass(frozen=True)
class AlertCrossed:
    """This charge took ``scope``'s spend in the period across its ``alert_threshold``."""

    scope: str
    threshold: Decimal
    spent: Decimal
    period: str


class LimitCounters:
    """The policy and bookkeeping; a backend supplies ``_check``, ``_add``, ``_read_usage``."""

    # False for a backend that never awaits (its calls cannot be interrupted anyway):
    # saves arming a timer per call.
    awaits_io = True

    def __init__(self, *, timeout: float = 0.5, rate_limits_on_failure: str = "open", budgets_on_failure: str = "closed"):
        self.timeout = timeout
        self.rate_limits_fail_open = rate_limits_on_failure == "open"
        self.budgets_fail_open = budgets_on_failure == "open"
        self._plans: dict[tuple, list[tuple[Check, LimitState]]] = {}
        self._pending: set[asyncio.Task] = set()
        self._failure_log = ThrottledLog(LOG_EVERY)
        self._unpriced_log = ThrottledLog(LOG_EVERY)

    # -- the interface the wiring calls --------------------------------------------------

    async def admit(self, subjects: Sequence[Subject], *, priced: bool = True, now: float | None = None) -> Decision:
        """Charge request limits and check token windows and budgets, in one round trip."""
        return await self._decide(subjects, now, requests=True, tokens=True, priced=priced)

    async def check_and_charge_requests(self, subjects: Sequence[Subject], *, now: float | None = None) -> Decision:
        return await self._decide(subjects, now, requests=True, tokens=False, priced=True)

    async def tokens_available(self, subjects: Sequence[Subject], *, priced: bool = True, now: float | None = None) -> Decision:
        return await self._decide(subjects, now, requests=False, tokens=True, priced=priced)

    async def charge_usage(
        self, subjects: Sequence[Subject], usage: UsageLike, cost: Decimal | None, *, now: float | None = None
    ) -> tuple[AlertCrossed, ...]:
        """Count an answer's tokens and cost; never raises (failures are logged)."""
        now = time.time() if now is None else now
        tokens = usage.input + usage.output
        cost_nano = 0 if cost is None else math.ceil(cost * NANO)
        adds: list[Add] = []
        alerts: list[tuple[int, Subject, Window]] = []  # index of the credit counter's Add
        for subject in subjects:
            if tokens:
                for limit in subject.limits.token_limits:
                    window = rate_window(limit.unit, now)
                    adds.append(Add(_rate_key(subject.scope, "tokens", window), tokens, _expiry(window)))
            budget = subject.limits.usage_limits
            if budget is None:
                continue
            period = budget_period(budget.periodic_reset, now)
            if budget.token_limit is not None and tokens:
                adds.append(Add(_budget_key(subject.scope, "tokens", period), tokens, _expiry(period)))
            if (budget.credit_limit is not None or budget.alert_threshold is not None) and cost_nano:
                adds.append(Add(_budget_key(subject.scope, "credit", period), cost_nano, _expiry(period)))
                if budget.alert_threshold is not None:
                    alerts.append((len(adds) - 1, subject, period))
        counts = {
            "requests": 1, "input": usage.input, "output": usage.output, "cache_read": usage.cache_read,
            "cache_write": usage.cache_write, "reasoning": usage.reasoning, "cost_nano": cost_nano,
            "unpriced": int(cost is None),
        }
        day = utc_day(now)
        expire_at = int(now) + USAGE_RETENTION_DAYS * 86400
        amounts = tuple((name, value) for name, value in counts.items() if value)
        daily = [DailyAdd(subject.scope, day, amounts, expire_at) for subject in subjects]
        if cost is None and tokens and (not_logged := self._unpriced_log.due()) is not None:
            log.warning("usage without a price: tokens counted, cost unknown", extra={"fields": {
                "scopes": [s.scope for s in subjects], "tokens": tokens, "not_logged_since": not_logged}})
        try:
            totals = await self._bounded(self._add(adds, daily))
        except (CountersUnavailable, TimeoutError) as exc:
            self._log_failure("charge_usage", exc)
            return ()
        crossed = []
        for index, subject, period in alerts:
            threshold = subject.limits.usage_limits.alert_threshold
            after = Decimal(totals[index]) / NANO
            before = Decimal(totals[index] - adds[index].amount) / NANO
            if before < threshold <= after:  # exactly one charge sees the crossing
                crossed.append(AlertCrossed(subject.scope, threshold, after, period.label))
                log.warning("usage alert threshold crossed", extra={"fields": {
                    "scope": subject.scope, "threshold_usd": str(threshold), "spent_usd": str(after), "period": period.label,
                }})
        return tuple(crossed)

    async def usage(self, scope: str, first_day: str, last_day: str) -> list[DailyUsage]:
        """Per-day usage of ``scope`` from ``first_day`` to ``last_day`` (``YYYY-MM-DD``, UTC)."""
        days = _days(first_day, last_day)
        async with asyncio.timeout(max(self.timeout, 5.0)):
            counts = await self._read_usage(scope, days)
        return [DailyUsage.from_counts(scope, day, counts.get(day, {})) for day in days]

    def charge_soon(self, subjects: Sequence[Subject], usage: UsageLike, cost: Decimal | None) -> None:
        """:meth:`charge_usage` in a task of its own, for the end of a request.

        The charge is not cancelled with the request (a client that hangs up mid-stream
        is charged for what was streamed), and :meth:`close` waits for it, so a draining
        worker loses no charge.
        """
        task = asyncio.get_running_loop().create_task(self.charge_usage(subjects, usage, cost, now=time.time()))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def close(self) -> None:
        """Wait for the charges still running, then release the backend."""
        if self._pending:
            await asyncio.wait(set(self._pending))
        await self._close_backend()

    async def _close_backend(self) -> None:
        pass

    # -- backends ------------------------------------------------------------------------

    async def _check(self, checks: Sequence[Check]) -> tuple[int, list[int]]:
        """Atomically: the index of the first check that refuses (-1: none), and each
        counter's value (after the charges when all admitted)."""
        raise NotImplementedError

    async def _add(self, adds: Sequence[Add], daily: Sequence[DailyAdd]) -> list[int]:
        """Add to counters (values after, in order) and to the days' usage."""
        raise NotImplementedError

    async def _read_usage(self, scope: str, days: Sequence[str]) -> dict[str, dict[str, int]]:
        raise NotImplementedError

    # -- the policy ----------------------------------------------------------------------

    async def _decide(self, subjects, now, *, requests: bool, tokens: bool, priced: bool) -> Decision:
        now = time.time() if now is None else now
        if tokens and not priced and any(_has_credit_limit(s) for s in subjects):
            return Decision(allowed=False, now=now, unpriced_model=True)
        plan = self._plan(subjects, now, requests, tokens)
        if not plan:
            return Decision(allowed=True, now=now)
        checks = [check for check, _ in plan]
        try:
            blocked, used = await self._bounded(self._check(checks))
        except (CountersUnavailable, TimeoutError) as exc:
            self._log_failure("admit", exc)
            budgets = any(state.category == BUDGET for _, state in plan)
            rates = any(state.category == RATE for _, state in plan)
            allowed = (not budgets or self.budgets_fail_open) and (not rates or self.rate_limits_fail_open)
            return Decision(allowed=allowed, now=now, unavailable=True)
        states = tuple(_with_used(state, value) for (_, state), value in zip(plan, used, strict=True))
        if blocked < 0:
            return Decision(allowed=True, now=now, states=states)
        return Decision(allowed=False, now=now, states=states, blocked_by=states[blocked])

    async def _bounded(self, call):
        if not self.awaits_io:
            return await call
        async with asyncio.timeout(self.timeout):
            return await call

    def _plan(self, subjects, now: float, requests: bool, tokens: bool) -> list[tuple[Check, LimitState]]:
        """The counters to check, cached per minute: every window and period (minute, hour,
        day, week, month) starts on a minute boundary, so a plan holds for its minute."""
        cache_key = (tuple(subjects), requests, tokens, int(now // 60))
        plan = self._plans.get(cache_key)
        if plan is None:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            plan = self._plans[cache_key] = _plan(subjects, now, requests=requests, tokens=tokens)
        return plan

    def _log_failure(self, operation: str, exc: BaseException) -> None:
        """A loud line, at most one per LOG_EVERY seconds (with how many were not logged)."""
        not_logged = self._failure_log.due()
        if not_logged is None:
            return
        log.error(
            "limit counters unavailable: rate limits fail %s, budgets fail %s",
            "open" if self.rate_limits_fail_open else "closed",
            "open" if self.budgets_fail_open else "closed",
            extra={"fields": {"operation": operation, "error": _describe(exc), "failures_not_logged": not_logged}},
        )


class ThrottledLog:
    """At most one line per ``every`` seconds; ``due()`` answers how many were skipped
    since the last line, or None when this one should be skipped too."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last = -math.inf
        self._skipped = 0

    def due(self) -> int | None:
        now = time.monotonic()
        if now - self._last < self.every:
            self._skipped += 1
            return None
        skipped, self._skipped, self._last = self._skipped, 0, now
        return skipped


def _plan(subjects: Sequence[Subject], now: float, *, requests: bool, tokens: bool) -> list[tuple[Check, LimitState]]:
    plan: list[tuple[Check, LimitState]] = []
    for subject in subjects:
        scope, limits = subject.scope, subject.limits
        for limit in limits.rate_limits:
            if (limit.type == "requests" and not requests) or (limit.type == "tokens" and not tokens):
                continue
            window = rate_window(limit.unit, now)
            charge = 1 if limit.type == "requests" else 0
            check = Check(_rate_key(scope, limit.type, window), limit.value, charge, _expiry(window))
            plan.append((check, LimitState(scope, RATE, limit.type, limit.unit, limit.value, 0, window.end)))
        budget = limits.usage_limits
        if not tokens or budget is None:
            continue
        period = budget_period(budget.periodic_reset, now)
        name = budget.periodic_reset or "total"
        if budget.token_limit is not None:
            check = Check(_budget_key(scope, "tokens", period), budget.token_limit, 0, _expiry(period))
            plan.append((check, LimitState(scope, BUDGET, "tokens", name, budget.token_limit, 0, period.end)))
        if budget.credit_limit is not None:
            check = Check(_budget_key(scope, "credit", period), int(budget.credit_limit * NANO), 0, _expiry(period))
            plan.append((check, LimitState(scope, BUDGET, "credit", name, budget.credit_limit, Decimal(0), period.end)))
    return plan


def _with_used(state: LimitState, value: int) -> LimitState:
    used = Decimal(value) / NANO if state.type == "credit" else value
    return LimitState(state.scope, state.category, state.type, state.period, state.limit, used, state.reset_at)


def _rate_key(scope: str, kind: str, window: Window) -> str:
    return f"rl:{scope}:{kind}:{window.label}"


def _budget_key(scope: str, kind: str, period: Window) -> str:
    return f"bu:{scope}:{kind}:{period.label}"


def _expiry(window: Window) -> int | None:
    return None if window.end is None else int(window.end) + EXPIRY_SLACK


def _has_credit_limit(subject: Subject) -> bool:
    return subject.limits.usage_limits is not None and subject.limits.usage_limits.credit_limit is not None


def _days(first_day: str, last_day: str) -> list[str]:
    from datetime import date, timedelta

    first, last = date.fromisoformat(first_day), date.fromisoformat(last_day)
    if last < first or (last - first).days > USAGE_RETENTION_DAYS:
        raise ValueError(f"day range {first_day}..{last_day}: must be ascending and at most {USAGE_RETENTION_DAYS} days")
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc.__cause__ or exc) or type(exc).__name__
