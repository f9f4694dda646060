"""Rate-limit windows and budget periods, in UTC.

Rate limits use **fixed windows aligned to the clock**: ``rpm`` counts from second 0 of
each UTC minute, ``rph`` from minute 0 of each hour, ``rpd`` from 00:00 UTC. Why fixed
rather than sliding:

- exact and cheap: one integer counter per key and window, checked and incremented
  atomically (one Redis script call, one SQLite transaction); a sliding log costs memory
  per request, and the two-window "sliding counter" is an estimate, not exact;
- the reset instant is known exactly, so ``x-ratelimit-reset-*`` and ``Retry-After``
  tell a client precisely when it will be let through, and every gateway agrees on it;
- the cost: a client may spend a window's allowance at its end and the next window's at
  the start of the next, so up to 2 × limit can pass within one window's length around
  a boundary. Per window the limit is exact.

Budgets (``usage_limits``) reset at calendar boundaries in UTC: ``monthly`` on the 1st
at 00:00, ``weekly`` on Monday at 00:00 (ISO weeks). Without ``periodic_reset`` a budget
never resets. Windows come from the gateway's clock: keep the fleet on NTP (a skew of a
few milliseconds only moves which window a request at the very boundary counts in).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

UNIT_SECONDS = {"rpm": 60, "rph": 3600, "rpd": 86400}


@dataclass(frozen=True)
class Window:
    """One counting interval: ``label`` names it in counter keys; ``end`` is None for ever."""

    label: str
    start: float
    end: float | None


def rate_window(unit: str, now: float) -> Window:
    length = UNIT_SECONDS[unit]
    start = int(now // length) * length
    return Window(f"{unit}{start}", float(start), float(start + length))


def budget_period(periodic_reset: str | None, now: float) -> Window:
    if periodic_reset is None:
        return Window("all", 0.0, None)
    moment = datetime.fromtimestamp(now, UTC)
    if periodic_reset == "monthly":
        start = moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
        return Window(f"m{start:%Y-%m}", start.timestamp(), end.timestamp())
    if periodic_reset == "weekly":
        day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
        start = day - timedelta(days=day.weekday())  # Monday
        return Window(f"w{start:%Y-%m-%d}", start.timestamp(), (start + timedelta(days=7)).timestamp())
    raise ValueError(f"unknown periodic_reset {periodic_reset!r}")


def utc_day(now: float) -> str:
    """The UTC calendar day (``2026-11-29``) usage is reported under."""
    return datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%d")
