"""Limit counters behind one async interface, shared across workers (and machines).

The wiring calls, per request with limits (``subjects`` = the API key's and the virtual
key's :class:`Subject`, each with its own counters):

1. before the call, ``await counters.admit(subjects, priced=...)``: one round trip that
   charges the request limits (all of them, or none when one refuses) and checks that
   every token window and budget has something left. (:meth:`check_and_charge_requests`
   and :meth:`tokens_available` do each half alone.)
2. after the call, ``counters.charge_nano_soon(subjects, usage, cost_nano)`` (``charge_soon``
   with the cost in USD, or ``await counters.charge_usage(...)``): tokens into the token
   windows and the token budget, cost into the credit budget, and the day's usage; never
   raises. ``charge_nano_soon`` adds it to the sums of the answers queued for a flushing
   task that the request's cancellation does not reach (a few integer additions per
   answer): the charges of the answers ending while one batch is written are summed
   and written together in the next (one round trip for all of them); :meth:`flush`
   and :meth:`close` wait for the queue, so a draining worker loses no charge.
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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from .decision import BUDGET, NANO, RATE, Decision, LimitState, StatePlan
from .model import Limits
from .pricing import UsageLike
from .windows import Window, budget_period, rate_window, utc_day

log = logging.getLogger("gateway.limits")

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

    def __post_init__(self) -> None:
        # Hashed on every request (plan caches): once, not through the nested limits each time.
        object.__setattr__(self, "_hash", hash((self.scope, self.limits)))

    def __hash__(self) -> int:
        return self._hash


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


@dataclass(frozen=True, slots=True, eq=False)  # compared by identity: the queue is keyed by it
class _ChargePlan:
    """Where an answer's charge goes, for one set of subjects in one minute."""

    token_counters: tuple[tuple[str, int | None], ...]  # (key, expire_at): token windows and budgets
    credit_counters: tuple[tuple[str, int | None], ...]
    alerts: tuple[tuple[str, Subject, Window], ...]  # (credit counter key, subject, period) with an alert_threshold
    scopes: tuple[str, ...]  # whose daily usage
    day: str


# The queue of charges not yet written: per charge plan, the sums of its answers'
# USAGE_FIELDS (in that order), then the latest charge's time (whole seconds).
_LAST = len(USAGE_FIELDS)
_Totals = list[int]


@dataclass(frozen=True, slots=True, eq=False)
class _Plan:
    """The counters one check reads, for one set of subjects in one minute."""

    checks: tuple[Check, ...]  # the same tuple while cached: a backend may cache its command by it
    states: StatePlan
    budgets: bool  # a budget among them (the budgets' failure policy applies)
    rates: bool  # a rate window among them


@dataclass(frozen=True)
class AlertCrossed:
    """This charge took ``scope``'s spend in the period across its ``alert_threshold``."""

    scope: str
    threshold: Decimal
    spent: Decimal
    period: str


class LimitCounters:
    """The policy and bookkeeping; a backend supplies ``_check``, ``_add``, ``_read_usage``."""

    # True for a backend whose calls never wait (embedded: nothing to interrupt) or
    # that bounds them itself (Redis: a timer per write): saves arming a timer per call.
    bounds_its_calls = False

    def __init__(self, *, timeout: float = 0.5, rate_limits_on_failure: str = "open", budgets_on_failure: str = "closed"):
        self.timeout = timeout
        self.rate_limits_fail_open = rate_limits_on_failure == "open"
        self.budgets_fail_open = budgets_on_failure == "open"
        self._plans: dict[tuple, _Plan] = {}
        self._charge_plans: dict[tuple, _ChargePlan] = {}
        # Where windows and periods are read from (tests move it to a window's end).
        self.clock: Callable[[], float] = time.time
        self._queue: dict[_ChargePlan, _Totals] = {}  # the charges not yet written
        self._flusher: asyncio.Task | None = None
        # Called (on the event loop) with each alert threshold a batch of charges crossed.
        self.on_alert: Callable[[AlertCrossed], None] | None = None
        self._failure_log = ThrottledLog(LOG_EVERY)
        self._unpriced_log = ThrottledLog(LOG_EVERY)

    # -- the interface the wiring calls --------------------------------------------------

    def admit(self, subjects: Sequence[Subject], *, priced: bool = True, now: float | None = None) -> Awaitable[Decision]:
        """Charge request limits and check token windows and budgets, in one round trip."""
        return self._decide(subjects, now, requests=True, tokens=True, priced=priced)  # one coroutine frame less

    async def check_and_charge_requests(self, subjects: Sequence[Subject], *, now: float | None = None) -> Decision:
        return await self._decide(subjects, now, requests=True, tokens=False, priced=True)

    async def tokens_available(self, subjects: Sequence[Subject], *, priced: bool = True, now: float | None = None) -> Decision:
        return await self._decide(subjects, now, requests=False, tokens=True, priced=priced)

    async def charge_usage(
        self, subjects: Sequence[Subject], usage: UsageLike, cost: Decimal | None, *, now: float | None = None
    ) -> tuple[AlertCrossed, ...]:
        """Count an answer's tokens and cost now; never raises (failures are logged)."""
        now = self.clock() if now is None else now
        batch: dict[_ChargePlan, _Totals] = {}
        self._add_charge(batch, subjects, usage, _nano(cost), now)
        return await self._write_charges(batch)

    def _add_charge(self, batch: dict[_ChargePlan, _Totals], subjects: Sequence[Subject], usage: UsageLike,
                    cost_nano: int | None, now: float) -> None:
        """Add one answer's charge to ``batch``'s sums (this runs per answer: no objects)."""
        plan = self._charge_plan(subjects, now)
        totals = batch.get(plan)
        if totals is None:
            totals = batch[plan] = [0] * (_LAST + 1)
        totals[0] += 1  # requests
        totals[1] += usage.input
        totals[2] += usage.output
        totals[3] += usage.cache_read
        totals[4] += usage.cache_write
        totals[5] += usage.reasoning
        if cost_nano is not None:
            totals[6] += cost_nano
        else:
            totals[7] += 1  # unpriced
            tokens = usage.input + usage.output
            if tokens and (not_logged := self._unpriced_log.due()) is not None:
                log.warning("usage without a price: tokens counted, cost unknown", extra={"fields": {
                    "scopes": [s.scope for s in subjects], "tokens": tokens, "not_logged_since": not_logged}})
        if now > totals[_LAST]:
            totals[_LAST] = int(now)

    def _charge_plan(self, subjects: Sequence[Subject], now: float) -> _ChargePlan:
        """Which counters an answer's tokens and cost go into, cached per minute (as plans)."""
        cache_key = (tuple(subjects), int(now // 60))
        plan = self._charge_plans.get(cache_key)
        if plan is None:
            if len(self._charge_plans) >= PLAN_CACHE_SIZE:
                self._charge_plans.clear()
            plan = self._charge_plans[cache_key] = _charge_plan(subjects, now)
        return plan

    async def _write_charges(self, batch: dict[_ChargePlan, _Totals]) -> tuple[AlertCrossed, ...]:
        """Several answers' charges (summed per plan) in one round trip: amounts on the
        same counter (or the same day's usage) are summed first."""
        merged: dict[str, list[int]] = {}  # key -> [amount, expire_at]
        merged_daily: dict[tuple[str, str], tuple[dict[str, int], list[int]]] = {}
        alerts: dict[str, tuple[Subject, Window]] = {}
        for plan, totals in batch.items():
            tokens, cost_nano = totals[1] + totals[2], totals[6]
            for counters, amount in ((plan.token_counters, tokens), (plan.credit_counters, cost_nano)):
                if not amount:
                    continue
                for key, expire_at in counters:
                    entry = merged.get(key)
                    if entry is None:
                        merged[key] = [amount, expire_at or 0]
                    else:
                        entry[0] += amount
            usage_expire_at = totals[_LAST] + USAGE_RETENTION_DAYS * 86400
            for scope in plan.scopes:
                fields, expiry = merged_daily.setdefault((scope, plan.day), ({}, [usage_expire_at]))
                expiry[0] = max(expiry[0], usage_expire_at)
                for name, amount in zip(USAGE_FIELDS, totals, strict=False):
                    if amount:
                        fields[name] = fields.get(name, 0) + amount
        for plan in batch:
            for key, subject, period in plan.alerts:
                if key in merged:
                    alerts[key] = (subject, period)
        adds = [Add(key, amount, expire_at or None) for key, (amount, expire_at) in merged.items()]
        daily = [DailyAdd(scope, day, tuple(fields.items()), expiry[0])
                 for (scope, day), (fields, expiry) in merged_daily.items()]
        try:
            totals = await self._bounded(self._add(adds, daily))
        except (CountersUnavailable, TimeoutError) as exc:
            self._log_failure("charge_usage", exc)
            return ()
        crossed = []
        after_of = dict(zip(merged, totals, strict=True))
        for key, (subject, period) in alerts.items():
            threshold = subject.limits.usage_limits.alert_threshold
            after = Decimal(after_of[key]) / NANO
            before = Decimal(after_of[key] - merged[key][0]) / NANO
            if before < threshold <= after:  # exactly one batch sees the crossing
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
        """:meth:`charge_usage`, batched with the other answers ending about now
        (:meth:`charge_nano_soon` with the cost in USD)."""
        self.charge_nano_soon(subjects, usage, _nano(cost))

    def charge_nano_soon(self, subjects: Sequence[Subject], usage: UsageLike, cost_nano: int | None) -> None:
        """:meth:`charge_usage`, batched with the other answers ending about now; the
        cost in integer nano-USD (:meth:`.PriceTable.cost_nano`), None when unknown.

        The charge is queued and written by one flushing task per worker: the charges
        queued while a batch is being written go together in the next one (one
        round trip for all of them). The task is not the request's, so a client that
        hangs up mid-stream is still charged for what was streamed; :meth:`flush` and
        :meth:`close` wait for the queue, so a draining worker loses no charge.
        Crossed alert thresholds go to :attr:`on_alert`.
        """
        self._add_charge(self._queue, subjects, usage, cost_nano, self.clock())
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush_queue())

    async def _flush_queue(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, {}
                crossed = await self._write_charges(batch)
                if crossed and self.on_alert is not None:
                    for alert in crossed:
                        self.on_alert(alert)
        finally:
            self._flusher = None

    async def flush(self) -> None:
        """Wait until the charges queued so far are written (or given up on)."""
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def close(self) -> None:
        """Write the charges still queued, then release the backend."""
        await self.flush()
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
        now = self.clock() if now is None else now
        if tokens and not priced and any(_has_credit_limit(s) for s in subjects):
            return Decision(allowed=False, now=now, unpriced_model=True)
        plan = self._plan(subjects, now, requests, tokens)
        if not plan.checks:
            return Decision(allowed=True, now=now)
        try:
            if self.bounds_its_calls:
                blocked, used = await self._check(plan.checks)
            else:
                blocked, used = await self._bounded(self._check(plan.checks))
        except (CountersUnavailable, TimeoutError) as exc:
            self._log_failure("admit", exc)
            allowed = (not plan.budgets or self.budgets_fail_open) and (not plan.rates or self.rate_limits_fail_open)
            return Decision(allowed=allowed, now=now, unavailable=True)
        return Decision.counted(now, plan.states, used, blocked)

    async def _bounded(self, call):
        if self.bounds_its_calls:
            return await call
        async with asyncio.timeout(self.timeout):
            return await call

    def _plan(self, subjects, now: float, requests: bool, tokens: bool) -> _Plan:
        """The counters to check (the same tuple while cached: a backend may cache its
        command by it), cached per minute: every window and period (minute, hour, day,
        week, month) starts on a minute boundary, so a plan holds for its minute."""
        cache_key = (tuple(subjects), requests, tokens, int(now // 60))
        plan = self._plans.get(cache_key)
        if plan is None:
            if len(self._plans) >= PLAN_CACHE_SIZE:
                self._plans.clear()
            pairs = _plan(subjects, now, requests=requests, tokens=tokens)
            states = tuple(s for _, s in pairs)
            plan = self._plans[cache_key] = _Plan(tuple(c for c, _ in pairs), StatePlan(states),
                                                  any(s.category == BUDGET for s in states),
                                                  any(s.category == RATE for s in states))
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


def _charge_plan(subjects: Sequence[Subject], now: float) -> _ChargePlan:
    tokens: list[tuple[str, int | None]] = []
    credit: list[tuple[str, int | None]] = []
    alerts: list[tuple[str, Subject, Window]] = []
    for subject in subjects:
        for limit in subject.limits.token_limits:
            window = rate_window(limit.unit, now)
            tokens.append((_rate_key(subject.scope, "tokens", window), _expiry(window)))
        budget = subject.limits.usage_limits
        if budget is None:
            continue
        period = budget_period(budget.periodic_reset, now)
        if budget.token_limit is not None:
            tokens.append((_budget_key(subject.scope, "tokens", period), _expiry(period)))
        if budget.credit_limit is not None or budget.alert_threshold is not None:
            credit.append((_budget_key(subject.scope, "credit", period), _expiry(period)))
            if budget.alert_threshold is not None:
                alerts.append((credit[-1][0], subject, period))
    return _ChargePlan(tuple(tokens), tuple(credit), tuple(alerts), tuple(s.scope for s in subjects), utc_day(now))


def _nano(cost: Decimal | None) -> int | None:
    """A cost in USD as integer nano-USD, rounded up (None: unknown)."""
    return None if cost is None else math.ceil(cost * NANO)


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
