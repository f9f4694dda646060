"""Usage read back per key and per day, for the admin API and ``gateway usage``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from .counters import DailyUsage, LimitCounters

MAX_DAYS = 400


class BadRange(ValueError):
    """A ``from`` / ``to`` that is not a day, or a range the counters do not keep."""


def day_range(first: str | None, last: str | None) -> tuple[str, str]:
    """``YYYY-MM-DD`` bounds (UTC); both default to today, ``from`` to ``to``."""
    today = datetime.now(UTC).date()
    end = _day(last, "to") if last else today
    start = _day(first, "from") if first else end
    if start > end:
        raise BadRange("from: must not be after to")
    if (end - start) > timedelta(days=MAX_DAYS):
        raise BadRange(f"from: at most {MAX_DAYS} days before to")
    return start.isoformat(), end.isoformat()


def _day(text: str, name: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise BadRange(f"{name}: must be a day, YYYY-MM-DD") from None


async def usage_report(counters: LimitCounters, scope: str, first: str, last: str) -> dict[str, Any]:
    days = await counters.usage(scope, first, last)
    return {"object": "list", "scope": scope, "from": first, "to": last, "data": [day_json(d) for d in days]}


def day_json(day: DailyUsage) -> dict[str, Any]:
    return {
        "date": day.day,
        "requests": day.requests,
        "input_tokens": day.input,
        "output_tokens": day.output,
        "cached_tokens": day.cache_read,
        "cache_write_tokens": day.cache_write,
        "reasoning_tokens": day.reasoning,
        "cost_usd": str(day.cost),
        "unpriced_requests": day.unpriced,
    }
