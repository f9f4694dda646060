"""The counters the settings ask for: Redis when a URL is set, else the embedded file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from ..settings import Settings
from .counters import LimitCounters
from .embedded import EmbeddedCounters, default_limits_db

if TYPE_CHECKING:
    from ..redis_client import RedisClient


def open_counters(settings: Settings, environ: Mapping[str, str], redis: RedisClient | None = None) -> LimitCounters:
    """``redis``: the app's shared client (:data:`gateway.redis_client.REDIS`); without
    one (the CLI) the counters open a client of their own."""
    policy = {
        "timeout": settings.limits_timeout,
        "rate_limits_on_failure": settings.rate_limits_on_failure,
        "budgets_on_failure": settings.budgets_on_failure,
    }
    if settings.redis_url:
        from .redis_backend import RedisCounters  # only fleets need the client

        return RedisCounters(redis or settings.redis_url, **policy)
    return EmbeddedCounters(settings.limits_db or default_limits_db(environ), **policy)
