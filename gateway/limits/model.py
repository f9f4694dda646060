"""Portkey's ``rate_limits`` and ``usage_limits`` as frozen dataclasses.

Examples (the admin API's JSON)::

    "rate_limits": [{"type": "requests", "unit": "rpm", "value": 60},
                    {"type": "tokens", "unit": "rpd", "value": 1000000}]
    "usage_limits": {"credit_limit": 50, "periodic_reset": "monthly",
                     "alert_threshold": 40, "token_limit": 20000000}

``token_limit`` is this gateway's addition (Portkey has only a credit limit): a budget in
tokens (input + output, cached tokens included) per period. Without ``periodic_reset`` a
budget never resets. Every error is a :class:`LimitsError` naming the field, for the
admin API's 400s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

RATE_TYPES = ("requests", "tokens")
RATE_UNITS = ("rpm", "rph", "rpd")
RESET_PERIODS = ("monthly", "weekly")
MAX_CREDIT_USD = Decimal(9_000_000)
_USAGE_FIELDS = ("credit_limit", "periodic_reset", "alert_threshold", "token_limit")


class LimitsError(ValueError):
    """A limit that cannot be used; ``field`` is its path (``rate_limits[1].unit``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class RateLimit:
    type: str  # "requests" or "tokens"
    unit: str  # "rpm", "rph" or "rpd"
    value: int

    def __post_init__(self) -> None:
        if self.type not in RATE_TYPES:
            raise LimitsError("type", f"must be one of {', '.join(RATE_TYPES)}")
        if self.unit not in RATE_UNITS:
            raise LimitsError("unit", f"must be one of {', '.join(RATE_UNITS)}")
        _check_positive_int("value", self.value)

    def to_json(self) -> dict:
        return {"type": self.type, "unit": self.unit, "value": self.value}


@dataclass(frozen=True)
class UsageLimits:
    credit_limit: Decimal | None = None  # USD per period
    token_limit: int | None = None  # tokens per period
    periodic_reset: str | None = None  # "monthly", "weekly", or None: never resets
    alert_threshold: Decimal | None = None  # USD; crossing it logs (and may call a webhook)

    def __post_init__(self) -> None:
        if self.periodic_reset is not None and self.periodic_reset not in RESET_PERIODS:
            raise LimitsError("periodic_reset", f"must be one of {', '.join(RESET_PERIODS)} or null")
        if self.token_limit is not None:
            _check_positive_int("token_limit", self.token_limit)
        for name in ("credit_limit", "alert_threshold"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, Decimal) and value.is_finite() and value > 0):
                raise LimitsError(name, "must be a positive amount in USD")
            if value is not None and value > MAX_CREDIT_USD:
                # Counters hold nano-USD; Redis scripts compare them as doubles, exact below 2**53.
                raise LimitsError(name, f"must be at most {MAX_CREDIT_USD} USD")
        if self.credit_limit is not None and self.alert_threshold is not None and self.alert_threshold > self.credit_limit:
            raise LimitsError("alert_threshold", "must not exceed credit_limit")

    @property
    def is_budget(self) -> bool:
        """True when something here can refuse a request (an alert alone cannot)."""
        return self.credit_limit is not None or self.token_limit is not None

    def to_json(self) -> dict:
        return {
            "credit_limit": _amount_json(self.credit_limit),
            "token_limit": self.token_limit,
            "periodic_reset": self.periodic_reset,
            "alert_threshold": _amount_json(self.alert_threshold),
        }


@dataclass(frozen=True)
class Limits:
    """Everything limited on one key (an API key or a virtual key)."""

    rate_limits: tuple[RateLimit, ...] = ()
    usage_limits: UsageLimits | None = None

    @property
    def request_limits(self) -> tuple[RateLimit, ...]:
        return tuple(limit for limit in self.rate_limits if limit.type == "requests")

    @property
    def token_limits(self) -> tuple[RateLimit, ...]:
        return tuple(limit for limit in self.rate_limits if limit.type == "tokens")

    @property
    def is_empty(self) -> bool:
        return not self.rate_limits and self.usage_limits is None


NO_LIMITS = Limits()


def parse_limits(rate_limits: object = None, usage_limits: object = None) -> Limits:
    """Both admin-API fields (JSON values, ``None`` when absent) into :class:`Limits`."""
    return Limits(parse_rate_limits(rate_limits), parse_usage_limits(usage_limits))


def parse_rate_limits(value: object) -> tuple[RateLimit, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise LimitsError("rate_limits", "must be a list of {type, unit, value} objects")
    parsed: list[RateLimit] = []
    for index, item in enumerate(value):
        path = f"rate_limits[{index}]"
        if not isinstance(item, Mapping):
            raise LimitsError(path, "must be an object with type, unit and value")
        for name in item:
            if name not in ("type", "unit", "value"):
                raise LimitsError(f"{path}.{name}", "unknown field (expected type, unit, value)")
        for name in ("type", "unit", "value"):
            if name not in item:
                raise LimitsError(f"{path}.{name}", "is required")
        try:
            limit = RateLimit(item["type"], item["unit"], item["value"])
        except LimitsError as exc:
            raise LimitsError(f"{path}.{exc.field}", exc.message) from None
        if any(other.type == limit.type and other.unit == limit.unit for other in parsed):
            raise LimitsError(path, f"a second {limit.type} limit per {limit.unit}")
        parsed.append(limit)
    return tuple(parsed)


def parse_usage_limits(value: object) -> UsageLimits | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise LimitsError("usage_limits", "must be an object")
    for name in value:
        if name not in _USAGE_FIELDS:
            raise LimitsError(f"usage_limits.{name}", f"unknown field (expected {', '.join(_USAGE_FIELDS)})")
    try:
        limits = UsageLimits(
            credit_limit=_amount("credit_limit", value.get("credit_limit")),
            token_limit=value.get("token_limit"),
            periodic_reset=value.get("periodic_reset"),
            alert_threshold=_amount("alert_threshold", value.get("alert_threshold")),
        )
    except LimitsError as exc:
        raise LimitsError(f"usage_limits.{exc.field}", exc.message) from None
    return limits


def _amount(name: str, value: object) -> Decimal | None:
    """USD from a JSON number or a decimal string ("12.50"); floats go through str()."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise LimitsError(name, "must be a positive amount in USD")
    try:
        return Decimal(str(value).strip())
    except InvalidOperation:
        raise LimitsError(name, "must be a positive amount in USD") from None


def _amount_json(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() else float(value)


def _check_positive_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise LimitsError(name, "must be a positive integer")
