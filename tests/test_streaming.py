"""Streaming is relayed chunk by chunk, failures end a stream loudly, hang-ups propagate."""

from __future__ import annotations

import asyncio

import openai
import orjson
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import TEST_KEY

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one two three"}], "stream": True}


def _headers(fake_openai) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {TEST_KEY}",
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": fake_openai.url,
    }


async def test_each_chunk_reaches_the_client_before_the_next_is_sent(sdk, fake_openai):
    fake_openai.gate = asyncio.Event()  # the fake holds the rest of the stream behind this
    stream = await sdk.chat.completions.create(**CHAT)
    received = []
    async for chunk in stream:
        received.append(chunk.choices[0].delta.content)
        if len(received) == 2:
            # The first word is here while the upstream has not sent the second yet.
            assert received == ["", "You"]
            assert not fake_openai.gate.is_set()
            fake_openai.gate.set()
    assert "".join(filter(None, received)) == "You said: one two three"


async def test_stream_passes_bytes_untouched_with_sse_headers(client, fake_openai, access_lines):
    response = await client.post(
        "/v1/chat/completions", json={**CHAT, "stream_options": {"include_usage": True}}, headers=_headers(fake_openai)
    )
    assert response.status == 200
    assert response.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert response.headers["Cache-Control"] == "no-cache"
    body = await response.read()
    events = [e for e in body.split(b"\n\n") if e]
    assert events[-1] == b"data: [DONE]"
    usage_chunk = orjson.loads(events[-2][len(b"data: ") :])
    assert usage_chunk["choices"] == [] and usage_chunk["usage"]["total_tokens"] > 0
    first = orjson.loads(events[0][len(b"data: ") :])
    assert first["choices"][0]["delta"]["role"] == "assistant"
    assert first["usage"] is None
    (line,) = access_lines()
    assert line.fields["bytes_out"] == len(body) and line.fields["status"] == 200


async def test_client_hangup_cancels_the_upstream_call(client, fake_openai, access_lines):
    fake_openai.gate = asyncio.Event()  # never set: the upstream would stream forever
    response = await client.post("/v1/chat/completions", json=CHAT, headers=_headers(fake_openai))
    assert response.status == 200
    first = await response.content.readuntil(b"\n\n")
    assert first.startswith(b"data: ")
    await fake_openai.first_chunk_sent.wait()
    response.close()  # the client hangs up mid-stream
    await asyncio.wait_for(fake_openai.disconnected.wait(), timeout=10)
    # Logged as nginx does: 499, client closed the request.
    assert [line.fields["status"] for line in access_lines()] == [499]


async def test_client_hangup_before_first_byte_cancels_the_upstream_call(client, fake_openai):
    fake_openai.hang = asyncio.Event()  # the upstream never answers
    request = asyncio.ensure_future(client.post("/v1/chat/completions", json=CHAT, headers=_headers(fake_openai)))
    await asyncio.wait_for(fake_openai.request_seen.wait(), timeout=10)
    request.cancel()
    await asyncio.wait_for(fake_openai.disconnected.wait(), timeout=10)


async def test_upstream_dying_mid_stream_ends_with_an_error_event_not_done(sdk, fake_openai):
    fake_openai.die_after_chunks = 3
    stream = await sdk.chat.completions.create(**CHAT)
    received = []
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert received == ["", "You", " said:"]
    assert "in the middle of its answer" in caught.value.message


async def test_upstream_dying_mid_stream_raw_events(client, fake_openai):
    fake_openai.die_after_chunks = 2
    response = await client.post("/v1/chat/completions", json=CHAT, headers=_headers(fake_openai))
    body = await response.read()
    assert b"[DONE]" not in body
    error = last_event_data(body)["error"]
    assert error["code"] == "upstream_error" and error["type"] == "api_error"


async def test_request_body_is_streamed_to_the_upstream(client, fake_openai):
    """A body sent in chunks (no Content-Length) reaches the upstream whole."""
    parts = [b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "', b"x" * 300_000, b'"}]}']

    async def body():
        for part in parts:
            yield part

    response = await client.post(
        "/v1/chat/completions", data=body(), headers={**_headers(fake_openai), "Content-Type": "application/json"}
    )
    assert response.status == 200
    assert fake_openai.last.body == b"".join(parts)
    assert fake_openai.last.headers.get("Transfer-Encoding") == "chunked"


async def test_declared_content_length_is_kept_upstream(client, fake_openai):
    payload = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
    response = await client.post("/v1/chat/completions", data=payload, headers={**_headers(fake_openai), "Content-Type": "application/json"})
    assert response.status == 200
    assert fake_openai.last.headers["Content-Length"] == str(len(payload))
    assert "Transfer-Encoding" not in fake_openai.last.headers


async def test_silent_upstream_mid_stream_hits_the_idle_timeout(aiohttp_client, fake_openai):
    client = await aiohttp_client(create_app(Settings(idle_timeout=0.2)))
    fake_openai.gate = asyncio.Event()  # never set: the upstream goes silent after one word
    response = await client.post("/v1/chat/completions", json=CHAT, headers=_headers(fake_openai))
    body = await response.read()
    assert b"[DONE]" not in body
    error = last_event_data(body)["error"]
    assert error["code"] == "stream_idle_timeout" and error["type"] == "timeout_error"
    await asyncio.wait_for(fake_openai.disconnected.wait(), timeout=10)


async def test_gateway_default_first_byte_timeout_is_a_504(aiohttp_client, fake_openai):
    client = await aiohttp_client(create_app(Settings(request_timeout=0.2)))
    fake_openai.hang = asyncio.Event()
    response = await client.post("/v1/chat/completions", json=CHAT, headers=_headers(fake_openai))
    assert response.status == 504
    error = (await response.json())["error"]
    assert error["code"] == "gateway_timeout" and error["type"] == "timeout_error"


def last_event_data(body: bytes) -> dict:
    """The JSON of the last event's data line (error events also carry ``event: error``)."""
    last = body.strip().split(b"\n\n")[-1]
    (data,) = [line for line in last.split(b"\n") if line.startswith(b"data: ")]
    assert last.startswith(b"event: error\n")
    return orjson.loads(data[len(b"data: ") :])
