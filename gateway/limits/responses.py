"""A refused :class:`~gateway.limits.decision.Decision` as the gateway's error, and the
remaining-headers of an admitted one.

===========================  ======  ======================  ==================================
refusal                      status  code                    headers
===========================  ======  ======================  ==================================
a rate limit (rpm/rph/rpd)   429     ``rate_limit_exceeded``  ``Retry-After``, ``retry-after-ms``,
                                                             ``x-ratelimit-*`` of both types
a budget (credit or tokens)  412     ``budget_exhausted``     ``x-should-retry: false``
credit limit, unpriced model 400     ``model_price_unknown``  (param ``model``)
counters down, fail-closed   503     ``limits_unavailable``   ``Retry-After: 1``
===========================  ======  ======================  ==================================

The OpenAI SDKs wait ``retry-after-ms`` (else ``Retry-After``) before retrying a 429 when
it is at most 60 s (openai-python: 2 min) and give up at once when it is longer, so a
client over a daily limit is not kept retrying. A 412 is never retried by them.
No message names a key: scopes are ids the operator chose, never secrets, but clients
need only the limit.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from ..errors import BadRequest, GatewayError
from .decision import Decision, LimitState, format_duration, rate_limit_headers, retry_after_headers

_CENT = Decimal("0.01")
_PERIOD_WORDS = {"rpm": "minute", "rph": "hour", "rpd": "day", "monthly": "month", "weekly": "week"}


class RateLimited(GatewayError):
    status = 429
    type = "rate_limit_error"
    code = "rate_limit_exceeded"


class BudgetExhausted(GatewayError):
    status = 412  # Portkey's answer for an exhausted budget
    type = "budget_exceeded_error"
    code = "budget_exhausted"


class ModelPriceUnknown(BadRequest):
    code = "model_price_unknown"


class LimitsUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "limits_unavailable"


def limit_headers(decision: Decision) -> dict[str, str]:
    """Headers for a limited key's successful answer (empty when nothing is limited)."""
    return rate_limit_headers(decision)


def limit_error(decision: Decision, *, model: str | None = None) -> GatewayError:
    """The error answering a refused decision."""
    if decision.allowed:
        raise ValueError("the decision admitted the request")
    if decision.unpriced_model:
        named = f"The model {model}" if model else "The model"
        return ModelPriceUnknown(
            f"{named} has no price, and this key has a credit limit: the gateway cannot meter it. "
            "An operator can add its price with --pricing-file.",
            param="model",
        )
    state = decision.blocked_by
    if state is None:
        return LimitsUnavailable(
            "Usage limits cannot be checked right now (the limit counters are unreachable); try again shortly.",
            headers={"Retry-After": "1"},
        )
    if state.category == "rate":
        headers = {**rate_limit_headers(decision), **retry_after_headers(decision)}
        wait = format_duration(decision.retry_after() or 0.0)
        return RateLimited(f"Rate limit reached: {_describe(state)}. Try again in {wait}.", headers=headers)
    return BudgetExhausted(f"Budget exhausted: {_describe(state)}; {_reset_text(state)}.", headers={"x-should-retry": "false"})


def _describe(state: LimitState) -> str:
    period = _PERIOD_WORDS.get(state.period)
    if state.type == "credit":
        amount = f"{state.limit} USD"
        spent = f" ({state.used.quantize(_CENT) if state.used >= 1 else state.used.normalize()} USD spent)"
    else:
        amount = f"{state.limit} {state.type}"
        spent = f" ({state.used} used)" if state.category == "budget" else ""
    return f"{amount} per {period}{spent}" if period else f"{amount} in total{spent}"


def _reset_text(state: LimitState) -> str:
    if state.reset_at is None:
        return "it does not reset; an admin can raise the limit"
    when = datetime.fromtimestamp(state.reset_at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"it resets at {when}, or when an admin raises the limit"

