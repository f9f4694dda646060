"""Streaming is relayed chunk by chunk, failures end a stream loudly, hang-ups propagate."""

from __future__ import annotations

import asyncio
import io

import openai
import orjson
import pytest
from aiohttp import web

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



async def hanging_upstream(first_body: bytes):
    """A raw HTTP upstream that sends a 200's headers (and ``first_body``, a chunk of
    its body, if any), then nothing; (its base URL, set once sent, set once the
    gateway has closed the connection)."""
    sent, gone = asyncio.Event(), asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
        chunk = b"%x\r\n%s\r\n" % (len(first_body), first_body) if first_body else b""
        writer.write(head + chunk)
        await writer.drain()
        sent.set()
        while await reader.read(65536):  # the rest of the request, then nothing until the gateway hangs up
            pass
        gone.set()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1", sent, gone


@pytest.mark.parametrize(
    ("provider", "first_body"),
    [
        ("openai", b""),  # the headers are in, the first body chunk is awaited (upstream.open_upstream)
        ("anthropic", b"event: ping\ndata: {}\n\n"),  # a translated stream's first output is awaited (routing)
    ],
)
async def test_client_hangup_while_the_first_byte_is_awaited_closes_the_upstream(client, provider, first_body):
    server, url, sent, gone = await hanging_upstream(first_body)
    async with server:
        headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": provider, "x-portkey-custom-host": url}
        request = asyncio.ensure_future(client.post("/v1/chat/completions", json={**CHAT, "max_tokens": 5}, headers=headers))
        await asyncio.wait_for(sent.wait(), timeout=10)
        request.cancel()
        await asyncio.wait_for(gone.wait(), timeout=10)


async def test_a_first_byte_timeout_after_the_upstreams_headers_closes_the_upstream(client):
    server, url, _, gone = await hanging_upstream(b"")
    async with server:
        headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": url,
                   "x-portkey-request-timeout": "200"}
        response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert response.status == 408
        await asyncio.wait_for(gone.wait(), timeout=10)

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


async def test_a_body_still_arriving_keeps_its_declared_length_upstream(client, fake_openai):
    # 4 MiB with a Content-Length: far more than the gateway reads ahead (it pauses the
    # socket past 128 KiB), so streamed upstream, and still with its length (some
    # upstreams refuse a chunked body).
    payload = orjson.dumps({"model": "m", "messages": [{"role": "user", "content": "x" * 4 * 1024 * 1024}]})
    response = await client.post("/v1/chat/completions", data=io.BytesIO(payload), headers={**_headers(fake_openai), "Content-Type": "application/json"})
    assert response.status == 200
    assert fake_openai.last.headers["Content-Length"] == str(len(payload)) and fake_openai.last.body == payload
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



async def test_a_slow_client_is_not_taken_for_a_silent_upstream(aiohttp_client, aiohttp_server):
    """The idle deadline is paused while the gateway writes: a client that stops
    reading for a while (its socket full, the gateway's write waiting on it) does not
    get a busy upstream's stream cut as idle."""
    idle = 0.2
    event = b": " + b"x" * (256 * 1024) + b"\n\n"  # SSE comments, relayed untouched

    async def busy_upstream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for _ in range(64):  # 16 MiB: more than the sockets on the way to the client hold
            await response.write(event)
        await response.write(b"data: [DONE]\n\n")
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", busy_upstream)
    upstream = await aiohttp_server(app)
    client = await aiohttp_client(create_app(Settings(idle_timeout=idle)))
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai",
               "x-portkey-custom-host": str(upstream.make_url("/v1"))}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200
    await asyncio.sleep(idle * 5)  # the slow client itself: it reads nothing for five idle periods
    body = await response.read()
    assert b"event: error" not in body[-1000:] and body.endswith(b"data: [DONE]\n\n")

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
