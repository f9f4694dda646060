"""OpenTelemetry spans, read with the SDK's in-memory exporter.

A request span continues the client's ``traceparent``; each upstream attempt is a
sibling CLIENT span under it with GenAI attributes; the upstream receives the
attempt's ``traceparent``; prompts stay out of spans unless the operator turns
content on.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from gateway.app import create_app
from gateway.observability import TRACING
from gateway.observability.tracing import NO_TRACING, Tracing, build_tracing
from gateway.routing import ROUTING_TOOLS, RoutingTools
from gateway.settings import Settings
from tests.conftest import TEST_KEY, GatewayTestServer
from tests.fakes.openai import MODEL, Fail

PROMPT = "the secret plan is 42"
CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": PROMPT}], "max_tokens": 16}
CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN = "b7ad6b7169203331"


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def gateway(settings, exporter):
    server = GatewayTestServer(settings)
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server.app[TRACING] = Tracing(provider, capture_content=settings.trace_content)

    async def no_wait(seconds: float) -> None:
        pass

    server.app[ROUTING_TOOLS] = RoutingTools(sleep=no_wait)
    async with server:
        yield server


def spans_by_kind(exporter):
    spans = exporter.get_finished_spans()
    server = [span for span in spans if span.kind == SpanKind.SERVER]
    clients = [span for span in spans if span.kind == SpanKind.CLIENT]
    return server, clients


async def test_a_request_continues_the_clients_trace_and_the_upstream_gets_the_attempts(
    client, auth_headers, fake_openai, exporter
):
    traceparent = f"00-{CLIENT_TRACE}-{CLIENT_SPAN}-01"
    # With a retry the body is read whole, so the request's model and parameters are known.
    headers = {**auth_headers, "traceparent": traceparent, "x-portkey-retry-count": "1"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200
    body = await response.json()
    [request_span], [attempt_span] = spans_by_kind(exporter)
    assert format(request_span.context.trace_id, "032x") == CLIENT_TRACE
    assert format(request_span.parent.span_id, "016x") == CLIENT_SPAN
    assert request_span.name == "POST /v1/chat/completions"
    assert request_span.attributes["http.response.status_code"] == 200
    assert attempt_span.parent.span_id == request_span.context.span_id
    # The upstream's traceparent names the attempt's span, in the same trace.
    sent = fake_openai.last.headers["traceparent"]
    assert sent == f"00-{CLIENT_TRACE}-{format(attempt_span.context.span_id, '016x')}-01"
    attributes = attempt_span.attributes
    assert attempt_span.name == "chat gpt-4o-mini"
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.provider.name"] == attributes["gen_ai.system"] == "openai"
    assert attributes["gen_ai.request.model"] == "gpt-4o-mini"
    assert attributes["gen_ai.request.max_tokens"] == 16
    assert attributes["gen_ai.response.model"] == MODEL
    assert attributes["gen_ai.usage.input_tokens"] == body["usage"]["prompt_tokens"]
    assert attributes["gen_ai.usage.output_tokens"] == body["usage"]["completion_tokens"]
    assert attributes["gen_ai.response.finish_reasons"] == ("stop",)
    assert attributes["server.address"] == "127.0.0.1"


async def test_a_stream_keeps_the_answering_span_open_until_it_ends(client, auth_headers, fake_openai, exporter):
    fake_openai.gate = asyncio.Event()  # the fake holds the rest after its first chunk
    stream = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = await client.post("/v1/chat/completions", json=stream, headers=auth_headers)
    await response.content.readline()
    assert exporter.get_finished_spans() == ()  # nothing ended while it streams
    fake_openai.gate.set()
    await response.read()
    [request_span], [attempt_span] = spans_by_kind(exporter)
    assert attempt_span.end_time >= request_span.start_time
    # The body went upstream unread: the model is the answer's, the request's is unknown.
    assert attempt_span.name == "chat"
    assert attempt_span.attributes["gen_ai.response.model"] == MODEL
    assert attempt_span.attributes["gen_ai.usage.output_tokens"] > 0
    assert attempt_span.attributes["gen_ai.response.finish_reasons"] == ("stop",)


async def test_the_stream_flag_and_cached_and_reasoning_tokens_are_span_attributes(client, auth_headers, exporter):
    headers = {**auth_headers, "x-portkey-retry-count": "1"}  # a retry reads the body: its stream flag is known
    body = {"model": "gpt-4.1-mini", "input": "one two three", "stream": True}
    response = await client.post("/v1/responses", json=body, headers=headers)
    assert response.status == 200
    await response.read()
    [request_span], [attempt_span] = spans_by_kind(exporter)
    assert attempt_span.attributes["gen_ai.request.stream"] is True
    for span in (request_span, attempt_span):  # the fake's Responses usage: 1 cached, 2 reasoning
        assert span.attributes["gen_ai.usage.cache_read.input_tokens"] == 1
        assert span.attributes["gen_ai.usage.reasoning.output_tokens"] == 2


async def test_retries_and_fallbacks_are_sibling_attempt_spans(client, make_fake, exporter):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(503), Fail(503)]
    leaf = {"provider": "openai", "api_key": TEST_KEY}
    config = {"strategy": {"mode": "fallback"}, "targets": [
        {**leaf, "custom_host": first.url, "retry": {"attempts": 1}}, {**leaf, "custom_host": second.url}]}
    response = await client.post("/v1/chat/completions", json=CHAT, headers={"x-portkey-config": json.dumps(config)})
    assert response.status == 200
    [request_span], attempts = spans_by_kind(exporter)
    attempts.sort(key=lambda span: span.start_time)
    assert [span.attributes["gateway.target"] for span in attempts] == [
        "config.targets[0]", "config.targets[0]", "config.targets[1]"]
    assert {span.parent.span_id for span in attempts} == {request_span.context.span_id}
    assert [span.status.status_code for span in attempts] == [StatusCode.ERROR, StatusCode.ERROR, StatusCode.UNSET]
    assert [span.attributes["http.response.status_code"] for span in attempts] == [503, 503, 200]
    # Each upstream request carried its own attempt's span id.
    sent = [fake.requests[i].headers["traceparent"] for fake, i in ((first, 0), (first, 1), (second, 0))]
    assert [value.split("-")[2] for value in sent] == [format(s.context.span_id, "016x") for s in attempts]


async def test_no_prompt_in_spans_unless_turned_on(client, auth_headers, exporter):
    # With a retry the body is read whole: the prompt is at hand, and must stay out.
    await client.post("/v1/chat/completions", json=CHAT, headers={**auth_headers, "x-portkey-retry-count": "1"})
    assert exporter.get_finished_spans()
    for span in exporter.get_finished_spans():
        assert not any(PROMPT in str(value) for value in span.attributes.values())


@pytest.mark.parametrize("settings", [Settings(trace_content=True)])
async def test_prompts_in_spans_when_turned_on(client, make_fake, exporter):
    fake = await make_fake()
    config = {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake.url, "retry": {"attempts": 1}}
    await client.post("/v1/chat/completions", json=CHAT, headers={"x-portkey-config": json.dumps(config)})
    [_], [attempt_span] = spans_by_kind(exporter)
    assert json.loads(attempt_span.attributes["gen_ai.input.messages"]) == CHAT["messages"]


async def test_a_relayed_500_marks_the_request_span_as_an_error(client, auth_headers, fake_openai, exporter):
    fake_openai.script = [Fail(500)]
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 500
    [request_span], [attempt_span] = spans_by_kind(exporter)
    for span in (request_span, attempt_span):
        assert span.status.status_code == StatusCode.ERROR
        assert span.attributes["error.type"] == "500"


def test_tracing_is_off_without_an_otlp_endpoint_and_on_with_one():
    assert build_tracing(Settings(), {}) is NO_TRACING
    assert build_tracing(Settings(tracing="off"), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}) is NO_TRACING
    assert build_tracing(Settings(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_SDK_DISABLED": "true"}) is NO_TRACING
    assert build_tracing(Settings(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://x", "OTEL_TRACES_EXPORTER": "none"}) is NO_TRACING
    tracing = build_tracing(Settings(), {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:9"})
    try:
        assert tracing.enabled
    finally:
        tracing.provider.shutdown()


async def test_tracing_off_sends_no_traceparent_upstream(aiohttp_client, auth_headers, fake_openai):
    client = await aiohttp_client(create_app(Settings(tracing="off")))
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 200
    assert client.app[TRACING] is NO_TRACING
    assert "traceparent" not in fake_openai.last.headers


async def test_a_cache_hit_is_a_request_span_without_attempts(client, auth_headers, fake_openai, exporter):
    headers = {**auth_headers, "x-portkey-config": json.dumps({"cache": {"mode": "simple"}})}
    for _ in range(2):
        assert (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status == 200
    server, clients = spans_by_kind(exporter)
    assert [span.attributes["gateway.cache.status"] for span in server] == ["MISS", "HIT"]
    assert len(clients) == 1  # the hit called no upstream
