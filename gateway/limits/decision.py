"""What a limit check answered, and the OpenAI-style headers that follow from it.

A :class:`Decision` holds one :class:`LimitState` per counter the check looked at (the
count *after* this request's charge when it was admitted), so the caller can answer
``x-ratelimit-limit-requests`` / ``-remaining-`` / ``-reset-`` (and the ``-tokens`` trio)
and ``Retry-After`` without asking the counters again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

RATE = "rate"  # a rate_limits window (requests or tokens per minute/hour/day)
BUDGET = "budget"  # a usage_limits period (credit in USD, or tokens)


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


@dataclass(frozen=True, slots=True)
class Decision:
    """``allowed`` with the states seen; ``blocked_by`` the first state that refused."""

    allowed: bool
    now: float
    states: tuple[LimitState, ...] = ()
    blocked_by: LimitState | None = None
    # The counters could not be reached: ``allowed`` then is the fail-open/closed policy.
    unavailable: bool = False
    # A credit limit applies but the model has no price: refused before any counting.
    unpriced_model: bool = False

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



def rate_limit_headers(decision: Decision) -> dict[str, str]:
    """``x-ratelimit-{limit,remaining,reset}-{requests,tokens}`` for the tightest window.

    Of several windows of one type (say rpm and rpd) the one with the fewest left is
    reported (on a refusal, the one that refused), as OpenAI reports one window per type.
    """
    blocked = decision.blocked_by
    # One pass over the states (this runs for every answer of a limited key): kind ->
    # (state, rank), rank None for the refusing window (reported whatever the others).
    picked: dict[str, tuple[LimitState, tuple | None]] = {}
    for candidate in decision.states:
        if candidate.category != RATE:
            continue
        current = picked.get(candidate.type)
        if current is not None and current[1] is None:
            continue
        if candidate is blocked:
            picked[candidate.type] = (candidate, None)
            continue
        rank = (candidate.remaining, -(candidate.reset_at or 0))
        if current is None or rank < current[1]:
            picked[candidate.type] = (candidate, rank)
    headers: dict[str, str] = {}
    for kind, (limit_name, remaining_name, reset_name) in _HEADER_NAMES:
        entry = picked.get(kind)
        if entry is None:
            continue
        state = entry[0]
        headers[limit_name] = str(state.limit)
        headers[remaining_name] = str(state.remaining)
        headers[reset_name] = format_duration(max((state.reset_at or 0) - decision.now, 0.0))
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
