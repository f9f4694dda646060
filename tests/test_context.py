"""The context middleware's trace id: the client's when valid, else a fresh UUID4."""

from __future__ import annotations

import uuid

from gateway.middlewares.context import new_trace_id


async def test_answer_carries_a_fresh_uuid4_trace_id(client):
    first = await client.get("/health")
    second = await client.get("/health")
    ids = [first.headers["x-portkey-trace-id"], second.headers["x-portkey-trace-id"]]
    assert ids[0] != ids[1]
    for trace_id in ids:
        assert uuid.UUID(trace_id).version == 4 and uuid.UUID(trace_id).hex == trace_id


async def test_client_trace_id_is_kept(client):
    response = await client.get("/health", headers={"x-portkey-trace-id": "my-trace.1"})
    assert response.headers["x-portkey-trace-id"] == "my-trace.1"


def test_new_trace_ids_are_uuid4_hex():
    for _ in range(1000):
        value = uuid.UUID(new_trace_id())
        assert value.version == 4 and value.variant == uuid.RFC_4122


async def test_access_line_is_written_when_info_is_on(client, access_lines):
    response = await client.get("/health", headers={"x-portkey-trace-id": "trace-for-log"})
    assert response.status == 200
    [line] = access_lines()
    assert line.fields["trace_id"] == "trace-for-log" and line.fields["status"] == 200


async def test_an_invalid_trace_id_is_refused_and_never_echoed(client, access_lines):
    bad = "no spaces <allowed> in a trace id"
    response = await client.post("/v1/chat/completions", json={}, headers={"x-portkey-trace-id": bad})
    assert response.status == 400 and (await response.json())["error"]["code"] == "invalid_trace_id"
    trace_id = response.headers["x-portkey-trace-id"]
    assert uuid.UUID(trace_id).hex == trace_id  # a fresh one, which the access line names too
    [line] = access_lines()
    assert line.fields["trace_id"] == trace_id
