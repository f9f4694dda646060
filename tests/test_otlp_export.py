"""End to end: a real gateway process exports its spans with OTLP over HTTP.

A small OTLP/HTTP receiver here decodes what the exporter really sends (protobuf
``ExportTraceServiceRequest``, from ``opentelemetry-proto``); the gateway is configured
by the standard ``OTEL_*`` environment variables only.
"""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from tests.conftest import TEST_KEY
from tests.gateway_process import GatewayProcess

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}
CLIENT_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


class Receiver:
    """Collects the spans of every export; ``arrived`` wakes whoever waits for more."""

    def __init__(self) -> None:
        self.spans: list[tuple[dict, Span]] = []  # (resource attributes, span)
        self.content_types: list[str] = []
        self.arrived = asyncio.Condition()

    async def traces(self, request: web.Request) -> web.Response:
        self.content_types.append(request.content_type)
        export = ExportTraceServiceRequest.FromString(await request.read())
        async with self.arrived:
            for resource_spans in export.resource_spans:
                resource = {kv.key: _value(kv.value) for kv in resource_spans.resource.attributes}
                for scope_spans in resource_spans.scope_spans:
                    self.spans += [(resource, span) for span in scope_spans.spans]
            self.arrived.notify_all()
        body = ExportTraceServiceResponse().SerializeToString()
        return web.Response(body=body, content_type="application/x-protobuf")

    async def wait_for(self, count: int) -> list[tuple[dict, Span]]:
        async with asyncio.timeout(30):
            async with self.arrived:
                await self.arrived.wait_for(lambda: len(self.spans) >= count)
        return self.spans


def _value(any_value):
    return getattr(any_value, any_value.WhichOneof("value"))


def attributes(span: Span) -> dict:
    return {kv.key: _value(kv.value) for kv in span.attributes}


async def test_spans_reach_an_otlp_http_receiver(aiohttp_server, unused_tcp_port, fake_openai):
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/v1/traces", receiver.traces)
    server = await aiohttp_server(app)
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": str(server.make_url("")).rstrip("/"),
        "OTEL_SERVICE_NAME": "gateway-under-test",
        "OTEL_BSP_SCHEDULE_DELAY": "50",
    }
    gateway = await GatewayProcess.start(unused_tcp_port, env=env)
    try:
        headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url,
                   "Authorization": f"Bearer {TEST_KEY}", "x-portkey-retry-count": "1",
                   "traceparent": f"00-{CLIENT_TRACE}-00f067aa0ba902b7-01"}
        async with aiohttp.ClientSession() as session:
            async with session.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=headers) as response:
                assert response.status == 200
                usage = (await response.json())["usage"]
        spans = await receiver.wait_for(2)
    finally:
        await gateway.close()
    assert receiver.content_types[0] == "application/x-protobuf"
    by_kind = {span.kind: (resource, span) for resource, span in spans}
    resource, request_span = by_kind[Span.SPAN_KIND_SERVER]
    _, attempt_span = by_kind[Span.SPAN_KIND_CLIENT]
    assert resource["service.name"] == "gateway-under-test"
    assert request_span.trace_id.hex() == attempt_span.trace_id.hex() == CLIENT_TRACE
    assert attempt_span.parent_span_id == request_span.span_id
    assert fake_openai.last.headers["traceparent"].split("-")[2] == attempt_span.span_id.hex()
    attempt = attributes(attempt_span)
    assert attempt["gen_ai.operation.name"] == "chat"
    assert attempt["gen_ai.request.model"] == "gpt-4o-mini"
    assert attempt["gen_ai.usage.input_tokens"] == usage["prompt_tokens"]
    assert attempt["gen_ai.usage.output_tokens"] == usage["completion_tokens"]
    assert attributes(request_span)["http.response.status_code"] == 200
