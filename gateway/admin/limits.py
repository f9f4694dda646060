"""Portkey's ``rate_limits`` and ``usage_limits``, checked for shape and kept verbatim.

``rate_limits``: ``[{"type": "requests"|"tokens", "unit": "rpm"|"rph"|"rpd", "value": N}]``.
``usage_limits``: ``{"credit_limit": USD, "periodic_reset": "monthly"|"weekly",
"alert_threshold": USD, "token_limit": N}`` (each optional). Keys beyond these are kept
as given, for the limits that read them.
"""

from __future__ import annotations

from typing import Any

from .fields import Fields

RATE_TYPES = ("requests", "tokens")
RATE_UNITS = ("rpm", "rph", "rpd")
RESETS = ("monthly", "weekly")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0


def rate_limits(fields: Fields) -> tuple[dict[str, Any], ...] | None:
    value = fields.body.get("rate_limits")
    if value is None:
        return None
    if not isinstance(value, list):
        fields.add("rate_limits", 'must be a list like [{"type": "requests", "unit": "rpm", "value": 60}]')
        return None
    for index, limit in enumerate(value):
        at = f"rate_limits[{index}]"
        if not isinstance(limit, dict):
            fields.add(at, "must be an object")
            continue
        if limit.get("type") not in RATE_TYPES:
            fields.add(f"{at}.type", f"must be one of {', '.join(RATE_TYPES)}")
        if limit.get("unit") not in RATE_UNITS:
            fields.add(f"{at}.unit", f"must be one of {', '.join(RATE_UNITS)}")
        count = limit.get("value")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            fields.add(f"{at}.value", "must be a whole number from 1")
    return tuple(value)


def usage_limits(fields: Fields) -> dict[str, Any] | None:
    value = fields.body.get("usage_limits")
    if value is None:
        return None
    if not isinstance(value, dict):
        fields.add("usage_limits", 'must be an object like {"credit_limit": 100, "periodic_reset": "monthly"}')
        return None
    for key in ("credit_limit", "alert_threshold", "token_limit"):
        if key in value and value[key] is not None and not _number(value[key]):
            fields.add(f"usage_limits.{key}", "must be a number from 0")
    reset = value.get("periodic_reset")
    if reset is not None and reset not in RESETS:
        fields.add("usage_limits.periodic_reset", f"must be one of {', '.join(RESETS)}")
    return value
