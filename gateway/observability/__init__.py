"""Metrics and traces, from one place: what the app holds and what serves /metrics.

* ``METRICS`` — :class:`~.metrics.Metrics` (or ``NO_METRICS``), moved by the context
  middleware once per request, from the request's state;
* ``TRACING`` — :class:`~.tracing.Tracing` (or ``NO_TRACING``);
* ``OVERHEAD_HEADER`` on every answer: the gateway's own milliseconds until the
  answer's headers went out (see ``overhead``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import AsyncIterator

from aiohttp import web

from ..settings import Settings
from .metrics import NO_METRICS, Metrics, NoMetrics
from .tracing import NO_TRACING, NoTracing, Tracing, build_tracing

log = logging.getLogger("gateway")

METRICS = web.AppKey("metrics", Metrics | NoMetrics)
TRACING = web.AppKey("tracing", Tracing | NoTracing)

# The gateway's own time on this answer, in ms (as LiteLLM's x-litellm-overhead-duration-ms).
OVERHEAD_HEADER = "x-gateway-overhead-ms"
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"


def observability_context(settings: Settings):
    """cleanup_ctx: the app's tracing, and the metrics' flushes; buffered spans and
    counts are flushed at the end."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        tracing = app.get(TRACING)
        if tracing is None:  # a test may have put its own in place
            tracing = app[TRACING] = build_tracing(settings, os.environ)
        flushing = asyncio.ensure_future(app[METRICS].flush_every()) if app[METRICS].enabled else None
        yield
        if flushing is not None:
            flushing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flushing
        await tracing.shutdown()

    return context


def build_metrics(settings: Settings) -> Metrics | NoMetrics:
    if not settings.metrics:
        return NO_METRICS
    from ..limits.pricing import PricingError, load_price_table

    try:
        prices = load_price_table(settings.pricing_file)
    except PricingError as exc:
        log.error("no cost metric: the price table cannot be read", extra={"fields": {"error": str(exc)}})
        prices = None
    return Metrics(
        max_models=settings.metrics_max_models,
        prices=prices,
        key_labels=settings.metrics_key_labels,
        max_keys=settings.metrics_max_keys,
    )


def overhead(state, now: float) -> float:
    """Seconds the gateway spent on this request up to ``now`` when not waiting.

    The request's time since its headers were read, minus the time spent awaiting an
    upstream (sending the request, its status line and first chunk, the rest of an
    answer read whole) and a retry's backoff (``state.waited``: routing and the relay
    report it, the context middleware writes it, and calls this, for a stream from its
    ``answer_starting``, which the relay calls as a stream starts).
    """
    return max(0.0, now - state.started - state.waited)


def set_overhead(state, headers) -> None:
    """Fix the figure once, as the answer's headers are about to go out."""
    if state.overhead is None:
        state.overhead = overhead(state, time.perf_counter())
        headers[OVERHEAD_HEADER] = f"{state.overhead * 1000:.2f}"


async def metrics_handler(request: web.Request) -> web.Response:
    body = request.app[METRICS].exposition()
    return web.Response(body=body, headers={"Content-Type": PROMETHEUS_TEXT})


def metrics_app(metrics: Metrics) -> web.Application:
    """The app of ``--metrics-listen``: ``/metrics`` only, outside the middlewares."""
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/metrics", metrics_handler)
    return app


__all__ = [
    "METRICS",
    "NO_METRICS",
    "NO_TRACING",
    "OVERHEAD_HEADER",
    "TRACING",
    "build_metrics",
    "metrics_app",
    "metrics_handler",
    "observability_context",
]
