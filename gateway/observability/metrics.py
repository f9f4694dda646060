"""Prometheus metrics: the families, and one method per event that moves them.

``prometheus_client`` is imported when metrics are built, not when this module is:
its multiprocess mode is chosen at import time from ``PROMETHEUS_MULTIPROC_DIR``,
which the supervisor sets (``observability.multiprocess``) before it forks workers.
With that variable each worker writes its values to its own memory-mapped files and
a scrape adds up every worker's files, those of dead workers included, so counts
survive worker restarts and reloads; gauges of the live workers only are summed.

Requests add to plain dicts in the worker (a few microseconds); ``flush`` writes
those batches to prometheus-client's values once a second and before every scrape
this worker answers. Writing each event straight through costs ~2 us per value in
multiprocess mode (a lock, a ``getpid()`` and an mmap write each), and a request
moves a dozen values. So another worker's latest second may be missing from a scrape,
and a worker killed with SIGKILL loses its last second of counts; a worker that
stops normally flushes first.

Label values are bounded (``observability.labels``). ``NoMetrics`` stands in when
metrics are off: the same methods, doing nothing.

With ``key_labels`` (``--metrics-key-labels on``) three more families count
requests, tokens and cost by the *names* of the API key and the virtual key (never
a key value or a slug), each label capped at ``max_keys`` names, then ``other``.
They are apart from the other families, so turning them on adds series without
changing the existing ones.
"""

from __future__ import annotations

import asyncio
import logging
import os
from bisect import bisect_left
from collections.abc import Mapping
from typing import Any

from .labels import NONE, TARGET_PATH, BoundedLabels, NameLabels, RouteLabels, status_class

log = logging.getLogger("gateway")

# Seconds between two writes of a worker's batches to the shared files.
FLUSH_SECONDS = 1.0

# Seconds. Whole requests and first bytes: an LLM answers in 0.2 s to minutes.
DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
TTFB_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
# The gateway's own time per request: tens of microseconds to a few milliseconds.
OVERHEAD_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1)

TOKEN_TYPES = ("input", "output", "cache_read", "cache_write", "reasoning")

# Upper bounds as bisect sees them: bucket i counts values <= bound i (and > bound i-1).
DURATION_BOUNDS = (*DURATION_BUCKETS, float("inf"))
TTFB_BOUNDS = (*TTFB_BUCKETS, float("inf"))
OVERHEAD_BOUNDS = (*OVERHEAD_BUCKETS, float("inf"))
_STATUS_CLASS = {status: status_class(status) for status in range(100, 600)}


class _RequestBatch:
    """Requests of one (route, provider, model, status class) since the last flush."""

    __slots__ = ("count", "duration", "duration_sum", "overhead", "overhead_sum", "ttfb", "ttfb_sum")

    def __init__(self) -> None:
        self.count = 0
        self.duration_sum = self.ttfb_sum = self.overhead_sum = 0.0
        self.duration = [0] * len(DURATION_BOUNDS)
        self.ttfb = [0] * len(TTFB_BOUNDS)
        self.overhead = [0] * len(OVERHEAD_BOUNDS)


# Error codes of a failed attempt (or a stream failed after its first byte) by kind.
ERROR_KINDS = {
    "upstream_unreachable": "connect",
    "request_timeout": "timeout",
    "gateway_timeout": "timeout",
    "stream_idle_timeout": "idle",
    "upstream_error": "protocol",
    "upstream_bad_frame": "protocol",
    "upstream_bad_response": "protocol",
    "upstream_protocol_error": "protocol",
    "upstream_stream_truncated": "protocol",
    "upstream_truncated": "protocol",
    "upstream_too_large": "protocol",
}
CLIENT_CLOSED = 499
# Statuses the gateway answers itself when it refuses a request: auth (401, 403),
# rate limits (429), budgets (412); and the limits' other refusals by their code.
REJECTION_STATUSES = frozenset({401, 403, 412, 429})
REJECTION_CODES = frozenset({"model_price_unknown", "limits_unavailable"})


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """Every metric family of one process (one worker, or a test's app)."""

    enabled = True

    def __init__(
        self, *, max_models: int = 50, max_targets: int = 100, prices=None, key_labels: bool = False, max_keys: int = 100
    ) -> None:
        import prometheus_client
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        # *_created series: absent in multiprocess mode anyway; one scrape shape for both.
        prometheus_client.disable_created_metrics()

        # A registry of our own: several apps in one process (tests) never collide,
        # and in multiprocess mode the scrape reads the files, not this registry.
        self.registry = registry = CollectorRegistry(auto_describe=True)
        self.multiprocess = multiprocess_dir() is not None
        self.models = BoundedLabels(max_models)
        self.targets = BoundedLabels(max_targets, TARGET_PATH)
        self.routes = RouteLabels()
        # gateway.limits.pricing.PriceTable (None: no cost metric); prices by (provider, model).
        self._prices = prices
        self._price_of: dict[tuple[str, str], Any] = {}

        def counter(name, doc, labels=()):
            return Counter(name, doc, labels, registry=registry)

        def histogram(name, doc, labels, buckets):
            return Histogram(name, doc, labels, buckets=buckets, registry=registry)

        def live_gauge(name, doc):
            return Gauge(name, doc, registry=registry, multiprocess_mode="livesum")

        self.requests = counter(
            "gateway_requests", "Requests answered, by route, provider, model and status class",
            ("route", "provider", "model", "status_class"),
        )
        self.duration = histogram(
            "gateway_request_duration_seconds", "Whole request, from its headers to the answer's end",
            ("route", "provider"), DURATION_BUCKETS,
        )
        self.ttfb = histogram(
            "gateway_time_to_first_byte_seconds", "From the request's headers to the answer's first body byte",
            ("route", "provider"), TTFB_BUCKETS,
        )
        self.overhead = histogram(
            "gateway_overhead_seconds",
            "The gateway's own time until the answer's headers: not waiting for an upstream or a retry's backoff",
            ("route",), OVERHEAD_BUCKETS,
        )
        self.attempts = counter(
            "gateway_upstream_attempts", "Calls to an upstream, by provider, target path and status class",
            ("provider", "target", "status_class"),
        )
        self.retries = counter(
            "gateway_upstream_retries", "Attempts followed by a retry of the same target", ("provider", "target")
        )
        self.fallbacks = counter(
            "gateway_fallbacks", "Attempts followed by a fallback to the next target", ("provider", "target")
        )
        self.upstream_errors = counter(
            "gateway_upstream_errors",
            "Upstream failures by kind: connect, timeout, idle, protocol, status (an error status answered)",
            ("provider", "kind"),
        )
        self.tokens = counter(
            "gateway_tokens", "Tokens by provider, model and type (input includes cache_read and cache_write)",
            ("provider", "model", "type"),
        )
        self.cost = counter("gateway_cost_usd", "Estimated cost in US dollars", ("provider", "model"))
        self.in_flight = live_gauge("gateway_requests_in_flight", "Requests being handled")
        self.streams = live_gauge("gateway_streams_in_flight", "Answers being streamed to clients")
        self.chunks = counter("gateway_stream_chunks", "Chunks written to clients in streamed answers", ("provider",))
        self.disconnects = counter(
            "gateway_client_disconnects", "Clients that hung up before their answer was complete",
            ("route", "phase"),
        )
        self.rejections = counter(
            "gateway_rejections", "Requests the gateway refused (auth, rate limits, budgets), by error code",
            ("reason",),
        )
        self.cache = counter("gateway_cache_requests", "Response cache lookups by status", ("status",))
        self.aws_refreshes = counter(
            "gateway_bedrock_credential_refreshes", "AWS credential chain resolutions and refreshes", ("result",)
        )
        # Per key, only when the operator asks (names are the operator's; bounded).
        self.key_labels = key_labels
        if key_labels:
            self.api_key_names = NameLabels(max_keys)
            self.virtual_key_names = NameLabels(max_keys)
            key = ("api_key", "virtual_key")
            self.key_requests = counter(
                "gateway_key_requests", "Requests by API-key name, virtual-key name and status class",
                (*key, "status_class"),
            )
            self.key_tokens = counter(
                "gateway_key_tokens", "Tokens by API-key name, virtual-key name and type", (*key, "type")
            )
            self.key_cost = counter("gateway_key_cost_usd", "Estimated cost in US dollars by key names", key)
        # Since the last flush: counter increments and histogram (sum, bucket counts),
        # by (family, label values); requests and streams in flight right now.
        self._counts: dict[tuple, float] = {}
        self._requests: dict[tuple, _RequestBatch] = {}
        self._tokens: dict[tuple, list] = {}  # (provider, model) -> 5 token counts, cost
        self._key_tokens: dict[tuple, list] = {}  # (api key, virtual key) -> the same
        self._in_flight = 0
        self._streams = 0

    def _add(self, family, labels: tuple, amount: float = 1.0) -> None:
        key = (family, labels)
        counts = self._counts
        counts[key] = counts.get(key, 0.0) + amount

    # -- events -------------------------------------------------------------------

    def request_started(self) -> None:
        self._in_flight += 1

    def stream_started(self) -> None:
        self._streams += 1

    def request_finished(self, path: str, state, status: int, duration: float, ttfb: float | None) -> None:
        """Everything a finished request tells: called once, from the context middleware."""
        add = self._add
        route = self.routes(path)
        provider = state.provider or NONE
        model = self.models(state.model)
        # One entry per (route, provider, model, status class) holds the request count
        # and the three histograms' batches: one dict lookup for the common part.
        key = (route, provider, model, _STATUS_CLASS.get(status) or status_class(status))
        batch = self._requests.get(key)
        if batch is None:
            batch = self._requests[key] = _RequestBatch()
        batch.count += 1
        batch.duration_sum += duration
        batch.duration[bisect_left(DURATION_BOUNDS, duration)] += 1
        if ttfb is not None:
            batch.ttfb_sum += ttfb
            batch.ttfb[bisect_left(TTFB_BOUNDS, ttfb)] += 1
        overhead = state.overhead
        if overhead is not None:
            batch.overhead_sum += overhead
            batch.overhead[bisect_left(OVERHEAD_BOUNDS, overhead)] += 1
        self._in_flight -= 1
        if state.streaming:
            self._streams -= 1
            if state.chunks_out:
                add(self.chunks, (provider,), state.chunks_out)
        if state.attempts:
            self._attempts(state.attempts)
        if state.cache_status is not None:
            add(self.cache, (state.cache_status,))
        stream_error = state.stream_error
        if stream_error is not None:
            add(self.upstream_errors, (provider, ERROR_KINDS.get(stream_error.code, "protocol")))
        if state.client_gone or status == CLIENT_CLOSED:
            add(self.disconnects, (route, "after_first_byte" if state.body_bytes_out else "before_first_byte"))
        elif (state.error_code is not None and not state.attempts
              and (status in REJECTION_STATUSES or state.error_code in REJECTION_CODES)):
            # Refused before any upstream call: an upstream's refusal (a 429 in a stream's
            # first event, turned into the gateway's error) is an upstream error, not this.
            add(self.rejections, (state.error_code,))
        usage = state.usage
        if usage is not None:
            self._count_usage(self._tokens, (provider, model), usage, provider, state.model)

    def key_finished(self, api_key: str | None, virtual_key: str | None, state, status: int) -> None:
        """The request by key names (called by the context middleware when ``key_labels``)."""
        add = self._add
        keys = (self.api_key_names(api_key), self.virtual_key_names(virtual_key))
        add(self.key_requests, (*keys, _STATUS_CLASS.get(status) or status_class(status)))
        usage = state.usage
        if usage is not None:
            self._count_usage(self._key_tokens, keys, usage, state.provider or NONE, state.model)

    def _count_usage(self, totals: dict, key: tuple, usage, provider: str, model: str | None) -> None:
        """Add an answer's five token counts, and their cost where priced, to ``totals[key]``."""
        tokens = totals.get(key)
        if tokens is None:
            tokens = totals[key] = [0, 0, 0, 0, 0, 0.0]
        tokens[0] += usage.input
        tokens[1] += usage.output
        tokens[2] += usage.cache_read
        tokens[3] += usage.cache_write
        tokens[4] += usage.reasoning
        if self._prices is not None and model is not None:
            price = self._price(provider, model)
            if price is not None:
                uncached = max(usage.input - usage.cache_read - usage.cache_write, 0)
                tokens[5] += (uncached * price[0] + usage.output * price[1]
                              + usage.cache_read * price[2] + usage.cache_write * price[3])

    def _price(self, provider: str, model: str) -> tuple[float, float, float, float] | None:
        """USD per input, output, cache-read, cache-write token (floats: a metric, not a bill)."""
        key = (provider, model)
        try:
            return self._price_of[key]
        except KeyError:
            found = self._prices.price(provider, model)
            price = None if found is None else (
                float(found.input), float(found.output), float(found.cache_read), float(found.cache_write))
            if len(self._price_of) < 4096:  # model names come from clients: bounded
                self._price_of[key] = price
            return price

    def _attempts(self, records: list[Mapping[str, Any]]) -> None:
        add = self._add
        for record in records:
            provider, target = record["provider"], self.targets(record["target"])
            status = record["status"]
            add(self.attempts, (provider, target, status_class(status)))
            error = record.get("error")
            if error is not None:
                add(self.upstream_errors, (provider, ERROR_KINDS.get(error, "status")))
            elif status >= 400:
                add(self.upstream_errors, (provider, "status"))
            then = record.get("then")
            if then == "retry":
                add(self.retries, (provider, target))
            elif then == "fallback":
                add(self.fallbacks, (provider, target))

    def cache_lookup(self, status: str) -> None:
        self._add(self.cache, (status,))

    def aws_credentials(self, result: str) -> None:
        self._add(self.aws_refreshes, (result,))

    # -- flush and scrape ---------------------------------------------------------

    def flush(self) -> None:
        """Write the batches since the last flush to prometheus-client's values."""
        counts, self._counts = self._counts, {}
        for (family, labels), amount in counts.items():
            family.labels(*labels).inc(amount)
        requests, self._requests = self._requests, {}
        histograms: dict[tuple, list] = {}
        for (route, provider, model, status), batch in requests.items():
            self.requests.labels(route, provider, model, status).inc(batch.count)
            for family, labels, total, buckets in (
                (self.duration, (route, provider), batch.duration_sum, batch.duration),
                (self.ttfb, (route, provider), batch.ttfb_sum, batch.ttfb),
                (self.overhead, (route,), batch.overhead_sum, batch.overhead),
            ):
                merged = histograms.setdefault((family, labels), [0.0, [0] * len(buckets)])
                merged[0] += total
                merged[1] = [a + b for a, b in zip(merged[1], buckets, strict=True)]
        for (family, labels), (total, buckets) in histograms.items():
            if not any(buckets):
                continue
            # Histogram.observe() writes _sum and one of _buckets (not cumulative) per
            # value; a batch writes each once, with its count.
            child = family.labels(*labels)
            child._sum.inc(total)
            for index, count in enumerate(buckets):
                if count:
                    child._buckets[index].inc(count)
        tokens, self._tokens = self._tokens, {}
        for (provider, model), counts in tokens.items():
            for kind, count in zip(TOKEN_TYPES, counts, strict=False):
                if count:
                    self.tokens.labels(provider, model, kind).inc(count)
            if counts[5]:
                self.cost.labels(provider, model).inc(counts[5])
        key_tokens, self._key_tokens = self._key_tokens, {}
        for keys, counts in key_tokens.items():
            for kind, count in zip(TOKEN_TYPES, counts, strict=False):
                if count:
                    self.key_tokens.labels(*keys, kind).inc(count)
            if counts[5]:
                self.key_cost.labels(*keys).inc(counts[5])
        self.in_flight.set(self._in_flight)
        self.streams.set(self._streams)

    async def flush_every(self, seconds: float = FLUSH_SECONDS) -> None:
        """Flush once per ``seconds`` until cancelled, then once more."""
        try:
            while True:
                await asyncio.sleep(seconds)
                self._flush_logged()
        finally:
            self._flush_logged()

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except Exception:  # a metrics bug must not stop the next flushes
            log.exception("metrics flush failed")

    def exposition(self) -> bytes:
        """The text format: every worker's values in multiprocess mode, else this one's."""
        from prometheus_client import CollectorRegistry, generate_latest

        self.flush()  # this worker's own counts are current; others' at most FLUSH_SECONDS old
        if not self.multiprocess:
            return generate_latest(self.registry)
        from prometheus_client.multiprocess import MultiProcessCollector

        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)


class NoMetrics:
    """Metrics off: every event is a method that does nothing."""

    enabled = False
    key_labels = False

    def request_started(self) -> None:
        pass

    def stream_started(self) -> None:
        pass

    def request_finished(self, path, state, status, duration, ttfb) -> None:
        pass

    def cache_lookup(self, status: str) -> None:
        pass

    def aws_credentials(self, result: str) -> None:
        pass

    def flush(self) -> None:
        pass

    async def flush_every(self, seconds: float = FLUSH_SECONDS) -> None:
        pass


NO_METRICS = NoMetrics()
