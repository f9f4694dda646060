"""OpenTelemetry traces: a span per request and one per upstream attempt.

Optional (``pip install '.[otel]'``) and configured the standard way, by ``OTEL_*``
environment variables: the OTLP/HTTP exporter reads ``OTEL_EXPORTER_OTLP_ENDPOINT``
(or ``..._TRACES_ENDPOINT``), ``..._HEADERS`` and ``..._TIMEOUT``; the batch
processor ``OTEL_BSP_*``; the sampler ``OTEL_TRACES_SAMPLER``; the resource
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES``; the propagators
``OTEL_PROPAGATORS`` (W3C ``traceparent`` by default).

Spans follow the OpenTelemetry GenAI semantic conventions: the request span (kind
SERVER) continues the client's ``traceparent``; each attempt at an upstream is a
CLIENT span under it named ``{gen_ai.operation.name} {gen_ai.request.model}``, so
retries and fallbacks show as siblings, and the upstream receives that attempt's
``traceparent``. The span that answered stays open while the answer streams and
gets the token usage and finish reason. Prompts go into spans only with
``--trace-content on``; answers never do.

``NoTracing`` stands in when tracing is off: the same methods, doing nothing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, MutableMapping
from typing import Any

import orjson

from .finish import note

log = logging.getLogger("gateway")

# gen_ai.provider.name (and the older gen_ai.system) for provider slugs whose
# well-known name differs; any other provider is named by its slug.
GEN_AI_PROVIDER_NAMES = {
    "bedrock": "aws.bedrock",
    "azure-openai": "azure.ai.openai",
    "google": "gcp.gemini",
    "vertex-ai": "gcp.vertex_ai",
    "mistral-ai": "mistral_ai",
    "x-ai": "x_ai",
}
# gen_ai.operation.name by endpoint (the path after /v1/).
OPERATIONS = {
    "chat/completions": "chat",
    "messages": "chat",
    "responses": "chat",
    "completions": "text_completion",
    "embeddings": "embeddings",
}
# Longest prompt put in a span with --trace-content on (bytes of JSON).
MAX_CONTENT = 64 * 1024


def otel_configured(environ: Mapping[str, str]) -> bool:
    """``auto`` tracing: an OTLP endpoint is configured and the SDK is not disabled."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def otel_installed() -> bool:
    try:
        import opentelemetry.exporter.otlp.proto.http.trace_exporter  # noqa: F401
        import opentelemetry.sdk.trace  # noqa: F401
    except ImportError:
        return False
    return True


def build_tracing(settings, environ: Mapping[str, str] = os.environ):
    """The app's tracing, from ``--tracing`` and the ``OTEL_*`` environment."""
    mode = settings.tracing
    if mode == "off" or (mode == "auto" and not otel_configured(environ)):
        return NO_TRACING
    if not otel_installed():
        if mode == "on":
            log.error("--tracing on, but OpenTelemetry is not installed: pip install 'portkey-compatible-gateway[otel]'")
        return NO_TRACING
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = "OTEL_SERVICE_NAME" in environ or "service.name=" in environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    resource = Resource.create({} if named else {"service.name": "ai-gateway"})
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider, capture_content=settings.trace_content)


class Tracing:
    enabled = True

    def __init__(self, provider, *, capture_content: bool = False) -> None:
        from opentelemetry import propagate, trace

        from .. import __version__

        self.provider = provider
        self._tracer = provider.get_tracer("gateway", __version__)
        self._trace = trace
        self._propagate = propagate
        self._capture_content = capture_content
        self._server, self._client = trace.SpanKind.SERVER, trace.SpanKind.CLIENT

    def start_request(self, request) -> Any:
        """The request's span, continuing the client's ``traceparent`` if it sent one."""
        parent = self._propagate.extract(request.headers)
        return self._tracer.start_span(
            f"{request.method} {request.path}" if request.path in ("/", "/health", "/ready") else request.method,
            context=parent,
            kind=self._server,
            attributes={"http.request.method": request.method, "url.path": request.path},
        )

    def end_request(self, span, state, status: int, route: str, response=None) -> None:
        if span is None:
            return
        body = getattr(response, "body", None)
        if isinstance(body, bytes) and not response.prepared:  # a whole answer, about to go out
            note(state, body)
        span.update_name(f"{span.name.split(' ')[0]} {route}")
        span.set_attribute("http.route", route)
        span.set_attribute("http.response.status_code", status)
        span.set_attribute("gateway.trace_id", state.trace_id)
        if state.provider is not None:
            span.set_attribute("gen_ai.provider.name", provider_name(state.provider))
        if state.option_path is not None:
            span.set_attribute("gateway.target", state.option_path)
        if state.cache_status is not None:
            span.set_attribute("gateway.cache.status", state.cache_status)  # a hit has no attempt span
        if status >= 500 or state.stream_error is not None:
            error = state.stream_error
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
            span.set_attribute("error.type", error.code if error is not None else str(status))
        answer = state.answer_span
        if answer is not None:
            _set_answer(answer, state)
            if state.stream_error is not None:
                answer.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
                answer.set_attribute("error.type", state.stream_error.code)
            answer.end()
            state.answer_span = None
        _set_usage(span, state)
        span.end()

    def start_attempt(self, request_span, provider: str, endpoint: str, body: Mapping[str, Any] | None, target: str):
        operation = OPERATIONS.get(endpoint) or endpoint.split("/", 1)[0]  # never an id in a span name
        model = body.get("model") if body is not None else None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": provider_name(provider),
            "gen_ai.system": provider_name(provider),
            "gateway.target": target,
        }
        if isinstance(model, str):
            attributes["gen_ai.request.model"] = model
        if body is not None:
            _request_parameters(attributes, body)
            if self._capture_content and "messages" in body:
                content = orjson.dumps(body["messages"])
                attributes["gen_ai.input.messages"] = content[:MAX_CONTENT].decode("utf-8", "replace")
        context = self._trace.set_span_in_context(request_span) if request_span is not None else None
        name = f"{operation} {model}" if isinstance(model, str) else operation
        return self._tracer.start_span(name, context=context, kind=self._client, attributes=attributes)

    def inject(self, span, headers: MutableMapping[str, str]) -> None:
        """The attempt's ``traceparent`` (and ``tracestate``) on the upstream request."""
        self._propagate.inject(headers, context=self._trace.set_span_in_context(span))

    def end_attempt(self, span, outcome, url, answered: bool) -> bool:
        """Record the attempt's outcome; end the span unless it is the answer (which
        stays open while it streams). Returns whether it was ended."""
        if url is not None:
            span.set_attribute("server.address", url.host or "")
            if url.port is not None:
                span.set_attribute("server.port", url.port)
        status = outcome.status if (outcome.error is not None or outcome.answer is not None) else None
        if status is not None:
            span.set_attribute("http.response.status_code", status)
        if outcome.error is not None or (status is not None and status >= 400):
            span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
            span.set_attribute("error.type", outcome.error.code if outcome.error is not None else str(status))
        if answered:
            from ..streaming.usage_sniffer import model_in

            model = model_in(outcome.answer.first_chunk)  # the answer names the model that answered
            if model:
                span.set_attribute("gen_ai.response.model", model)
            return False
        span.end()
        return True

    def cancel_attempt(self, span) -> None:
        span.set_status(self._trace.Status(self._trace.StatusCode.ERROR))
        span.set_attribute("error.type", "cancelled")
        span.end()

    async def shutdown(self) -> None:
        """Flush what is buffered (in a thread: the exporter blocks)."""
        import asyncio

        await asyncio.get_running_loop().run_in_executor(None, self.provider.shutdown)


def provider_name(slug: str) -> str:
    return GEN_AI_PROVIDER_NAMES.get(slug, slug)


_PARAMETERS = {
    "max_tokens": "gen_ai.request.max_tokens",
    "max_completion_tokens": "gen_ai.request.max_tokens",
    "temperature": "gen_ai.request.temperature",
    "top_p": "gen_ai.request.top_p",
    "seed": "gen_ai.request.seed",
}


def _request_parameters(attributes: dict[str, Any], body: Mapping[str, Any]) -> None:
    for key, attribute in _PARAMETERS.items():
        value = body.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            attributes[attribute] = value
    if body.get("stream") is True:
        attributes["gen_ai.request.stream"] = True


def _set_answer(span, state) -> None:
    if "gen_ai.response.model" not in span.attributes and state.model:
        span.set_attribute("gen_ai.response.model", state.model)
    reasons = getattr(state, "finish_reasons", None)
    if reasons:
        span.set_attribute("gen_ai.response.finish_reasons", list(reasons))
    _set_usage(span, state)


def _set_usage(span, state) -> None:
    usage = getattr(state, "usage", None)
    if usage is None:
        return
    span.set_attribute("gen_ai.usage.input_tokens", usage.input)
    span.set_attribute("gen_ai.usage.output_tokens", usage.output)
    if usage.cache_read:
        span.set_attribute("gen_ai.usage.cache_read.input_tokens", usage.cache_read)
    if usage.cache_write:
        span.set_attribute("gen_ai.usage.cache_creation.input_tokens", usage.cache_write)
    if usage.reasoning:
        span.set_attribute("gen_ai.usage.reasoning.output_tokens", usage.reasoning)


class NoTracing:
    """Tracing off: nothing is created, nothing is sent."""

    enabled = False

    def start_request(self, request) -> None:
        return None

    def end_request(self, span, state, status, route, response=None) -> None:
        pass

    async def shutdown(self) -> None:
        pass


NO_TRACING = NoTracing()
