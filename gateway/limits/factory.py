"""The counters the settings ask for: Redis when a URL is set, else the embedded file."""

from __future__ import annotations

from collections.abc import Mapping

from ..settings import Settings
from .counters import LimitCounters
from .embedded import EmbeddedCounters, default_limits_db


def open_counters(settings: Settings, environ: Mapping[str, str]) -> LimitCounters:
    policy = {
        "timeout": settings.limits_timeout,
        "rate_limits_on_failure": settings.rate_limits_on_failure,
        "budgets_on_failure": settings.budgets_on_failure,
    }
    if settings.redis_url:
        from .redis_backend import RedisCounters  # only fleets need the client

        return RedisCounters(settings.redis_url, **policy)
    return EmbeddedCounters(settings.limits_db or default_limits_db(environ), **policy)
