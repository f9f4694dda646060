"""What a limit check answered, and the OpenAI-style headers that follow from it.

A :class:`Decision` holds one :class:`LimitState` per counter the check looked at (the
count *after* this request's charge when it was admitted), so the caller can answer
``x-ratelimit-limit-requests`` / ``-remaining-`` / ``-reset-`` (and the ``-tokens`` trio)
and ``Retry-After`` without asking the counters again.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

RATE = "rate"  # a rate_limits window (requests or tokens per minute/hour/day)
BUDGET = "budget"  # a usage_limits period (credit in USD, or tokens)
NANO = Decimal(1_000_000_000)  # credit counters hold integer nano-USD


@dataclass(frozen=True, slots=True)
class LimitState:
    scope: str  # whose counter: an API key or virtual key id, as the caller names it
    category: str  # RATE or BUDGET
    type: str  # "requests" or "tokens" (RATE); "credit" or "tokens" (BUDGET)
    period: str  # "rpm", "rph", "rpd" (RATE); "monthly", "weekly" or "total" (BUDGET)
    limit: int | Decimal
    used: int | Decimal
    reset_at: float | None  # epoch seconds; None: a budget that never resets

    @property
    def remaining(self) -> int | Decimal:
        return max(self.limit - self.used, 0)

    @property
    def exhausted(self) -> bool:
        return self.used >= self.limit


class Decision:
    """``allowed`` with the states seen; ``blocked_by`` the first state that refused.

    An admitting decision made by the counters (:meth:`counted`) keeps the counts as
    they came and builds its :attr:`states` only when asked: the request path reads
    just its headers (:meth:`StatePlan.headers`), with no object per counter.
    """

    __slots__ = ("allowed", "now", "blocked_by", "unavailable", "unpriced_model", "_states", "_plan", "_used")

    def __init__(
        self,
        allowed: bool,
        now: float,
        states: tuple[LimitState, ...] = (),
        blocked_by: LimitState | None = None,
        unavailable: bool = False,  # the counters could not be reached: ``allowed`` is the fail-open/closed policy
        unpriced_model: bool = False,  # a credit limit applies but the model has no price: refused before counting
    ) -> None:
        self.allowed = allowed
        self.now = now
        self.blocked_by = blocked_by
        self.unavailable = unavailable
        self.unpriced_model = unpriced_model
        self._states: tuple[LimitState, ...] | None = states
        self._plan: StatePlan | None = None
        self._used: Sequence[int] = ()

    @classmethod
    def counted(cls, now: float, plan: StatePlan, used: Sequence[int], blocked: int) -> Decision:
        """What a check of ``plan``'s counters answered: their values ``used`` and the
        index of the one that refused (-1: admitted)."""
        if blocked >= 0:
            states = plan.with_used(used)
            return cls(False, now, states, _to_wait_for(states, states[blocked]))
        decision = cls(True, now, None)
        decision._plan = plan
        decision._used = used
        return decision

    @property
    def states(self) -> tuple[LimitState, ...]:
        if self._states is None:
            self._states = self._plan.with_used(self._used)
        return self._states

    def __repr__(self) -> str:
        return (f"Decision(allowed={self.allowed}, now={self.now}, states={self.states}, blocked_by={self.blocked_by}, "
                f"unavailable={self.unavailable}, unpriced_model={self.unpriced_model})")

    @property
    def reason(self) -> str | None:
        if self.allowed:
            return None
        if self.unpriced_model:
            return "model_price_unknown"
        if self.blocked_by is None:
            return "limits_unavailable"
        return "rate_limited" if self.blocked_by.category == RATE else "budget_exhausted"

    def retry_after(self) -> float | None:
        """Seconds until the refusing window resets (None when nothing will reset it)."""
        if self.blocked_by is None or self.blocked_by.reset_at is None:
            return None
        return max(self.blocked_by.reset_at - self.now, 0.0)


def _to_wait_for(states: tuple[LimitState, ...], first: LimitState) -> LimitState:
    """Of the spent limits (each would refuse the request), the one it must wait for:
    a budget that never resets, else the one that resets last. The counters name the
    first that refused; a client told to come back when that one resets would be
    refused again by the next (an rpm and an rpd spent together: "retry in 40 s")."""
    chosen = first
    for state in states:
        if state.exhausted and chosen.reset_at is not None and (state.reset_at is None or state.reset_at > chosen.reset_at):
            chosen = state
    return chosen


class StatePlan:
    """The states one check reports, before their counts are known (``used`` 0), and
    which of them the remaining-headers may report: made once per plan (a minute),
    read per request."""

    __slots__ = ("states", "_credit", "_picks")

    def __init__(self, states: tuple[LimitState, ...]) -> None:
        self.states = states
        self._credit = any(state.type == "credit" for state in states)
        # Per header type: its names and its candidates (index, limit, limit text, reset_at).
        picks = []
        for kind, names in _HEADER_NAMES:
            candidates = tuple((i, state.limit, str(state.limit), state.reset_at or 0)
                               for i, state in enumerate(states) if state.category == RATE and state.type == kind)
            if candidates:
                picks.append((names, candidates))
        self._picks = tuple(picks)

    def with_used(self, used: Sequence[int]) -> tuple[LimitState, ...]:
        """The states with the counters' values (credit counters hold nano-USD)."""
        if not self._credit:
            return tuple(LimitState(s.scope, s.category, s.type, s.period, s.limit, value, s.reset_at)
                         for s, value in zip(self.states, used, strict=True))
        return tuple(LimitState(s.scope, s.category, s.type, s.period, s.limit,
                                Decimal(value) / NANO if s.type == "credit" else value, s.reset_at)
                     for s, value in zip(self.states, used, strict=True))

    def headers(self, used: Sequence[int], now: float) -> dict[str, str]:
        """:func:`rate_limit_headers` of an admitting decision with these counts."""
        headers: dict[str, str] = {}
        for (limit_name, remaining_name, reset_name), candidates in self._picks:
            if len(candidates) == 1:
                index, limit, limit_text, reset_at = candidates[0]
                remaining = limit - used[index]
            else:  # the fewest left, then the latest reset, then the first
                best = None
                for index, limit, text, reset in candidates:
                    left = limit - used[index]
                    rank = (left if left > 0 else 0, -reset)
                    if best is None or rank < best:
                        best, remaining, limit_text, reset_at = rank, left, text, reset
            headers[limit_name] = limit_text
            headers[remaining_name] = str(remaining) if remaining > 0 else "0"
            wait = reset_at - now
            headers[reset_name] = format_duration(wait if wait > 0 else 0.0)
        return headers


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` for the tightest window.

    Of several windows of one type (say rpm and rpd) the one with the fewest left is
    reported (on a refusal, the one that refused), as OpenAI reports one window per type.
    """
    if decision._plan is not None:  # counted and admitted: from the plan, without states
        return decision._plan.headers(decision._used, decision.now)
    states = decision.states
    headers = StatePlan(states).headers([state.used for state in states], decision.now)
    blocked = decision.blocked_by
    if blocked is not None and blocked.category == RATE:  # the refusing window, whatever the others
        limit_name, remaining_name, reset_name = dict(_HEADER_NAMES)[blocked.type]
        headers[limit_name] = str(blocked.limit)
        headers[remaining_name] = str(blocked.remaining)
        headers[reset_name] = format_duration(max((blocked.reset_at or 0) - decision.now, 0.0))
    return headers


_HEADER_NAMES = tuple(
    (kind, (f"x-ratelimit-limit-{kind}", f"x-ratelimit-remaining-{kind}", f"x-ratelimit-reset-{kind}"))
    for kind in ("requests", "tokens")
)


def retry_after_headers(decision: Decision) -> dict[str, str]:
    """``Retry-After`` (whole seconds, rounded up, per RFC 9110) and ``retry-after-ms``.

    The OpenAI SDKs read ``retry-after-ms`` first, so they wait exactly until the window
    resets; others get the whole seconds. Empty when nothing will reset the refusal.
    """
    seconds = decision.retry_after()
    if seconds is None:
        return {}
    return {"Retry-After": str(max(math.ceil(seconds), 1)), "retry-after-ms": str(max(math.ceil(seconds * 1000), 1))}


def format_duration(seconds: float) -> str:
    """OpenAI's reset format: ``20ms``, ``1.5s``, ``6m0s``, ``1h2m3s``."""
    if seconds < 1:
        return f"{math.ceil(seconds * 1000)}ms"
    if seconds < 60:  # the common case (per-minute windows): as below, without the divisions
        return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    secs_text = f"{secs:.3f}".rstrip("0").rstrip(".")
    if hours:
        return f"{int(hours)}h{int(minutes)}m{secs_text}s"
    if minutes:
        return f"{int(minutes)}m{secs_text}s"
    return f"{secs_text}s"
