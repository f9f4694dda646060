"""Retrying one target: which failures, how long to wait, how many times.

A failure is retried when its status is in ``retry.on_status_codes`` (default 429,
500, 502, 503, 504), or when the upstream could not be reached at all (refused, reset,
closed before answering). A timeout counts by its status (408 for ``request_timeout``,
504 for the gateway's own limit). The wait before retry ``n`` (0-based) is an
exponential backoff with "equal jitter": half of ``min(BACKOFF_MAX_S, BACKOFF_BASE_S *
2**n)`` plus a random part up to the other half. With ``use_retry_after_header`` the
upstream's ``retry-after-ms``, ``x-ms-retry-after-ms`` or ``retry-after`` (seconds or
an HTTP date) is honoured instead, as long as all the waits for this target stay
within ``RETRY_WAIT_BUDGET_S``; an upstream asking for more gets its answer passed on
rather than a client left waiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from email.utils import parsedate_to_datetime

from ..config import Leaf, RetryPolicy
from .attempt import Outcome, RouteContext, attempt

BACKOFF_BASE_S = 0.5
BACKOFF_MAX_S = 8.0
RETRY_WAIT_BUDGET_S = 60.0


async def call_with_retry(ctx: RouteContext, leaf: Leaf) -> Outcome:
    policy = leaf.retry
    waited = 0.0
    retries = 0
    while True:
        outcome = await attempt(ctx, leaf)
        outcome.retries = retries
        if outcome.ok or not is_retryable(outcome, policy):
            return outcome
        if retries >= policy.attempts:
            outcome.retries_exhausted = policy.attempts > 0
            return outcome
        delay = retry_delay(outcome, policy, retries, ctx)
        if waited + delay > RETRY_WAIT_BUDGET_S:
            outcome.record.retry = "over_wait_budget"
            return outcome
        outcome.record.then = "retry"
        outcome.discard()
        await ctx.tools.sleep(delay)
        ctx.routed.waited += delay  # a backoff is not the gateway's overhead
        waited += delay
        retries += 1


def is_retryable(outcome: Outcome, policy: RetryPolicy) -> bool:
    return outcome.network_error or outcome.status in policy.on_status_codes


def retry_delay(outcome: Outcome, policy: RetryPolicy, retries: int, ctx: RouteContext) -> float:
    if policy.use_retry_after_header and outcome.answer is not None:
        asked = retry_after(outcome.answer.headers, ctx.tools.now())
        if asked is not None:
            return asked
    return backoff(retries, ctx.tools.random())


def backoff(retries: int, random_fraction: float) -> float:
    ceiling = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2**retries)
    return ceiling / 2 + random_fraction * ceiling / 2


def retry_after(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the upstream asks to wait, from the most precise header it sent."""
    for name in ("retry-after-ms", "x-ms-retry-after-ms"):
        value = _number(headers.get(name))
        if value is not None:
            return value / 1000
    text = headers.get("retry-after")
    if text is None:
        return None
    value = _number(text)
    if value is not None:
        return value
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip())
    except ValueError:
        return None
    return value if value >= 0 and value == value and value != float("inf") else None
