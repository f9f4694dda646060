"""The access line's fields, through the real HTTP surface: model, usage, time to first
byte, client address, upstream request id, worker pid, why an answer ended early; and
the debug line of each upstream attempt (its URL, never a secret)."""

from __future__ import annotations

import asyncio
import logging
import os
import time

import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDict

from gateway.app import create_app
from gateway.client_address import TrustedProxies
from gateway.settings import Settings
from tests.conftest import TEST_KEY
from tests.fakes.openai import MODEL
from tests.test_usage import OPENAI_EXPECTED, SSE_WITH_USAGE

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one two three"}]}
# What the fake counts for CHAT: 3 prompt words; "You said: one two three" is 5 words.
FAKE_USAGE = {"input": 3, "output": 5, "cache_read": 0, "cache_write": 0, "reasoning": 0}


class AccessLineWaiter(logging.Handler):
    """Sets ``written`` when the gateway writes an access line (after the answer ended)."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.written = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.written.set()


@pytest.fixture
def access_waiter():
    logger = logging.getLogger("gateway.access")
    waiter = AccessLineWaiter()
    level = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(waiter)
    yield waiter
    logger.removeHandler(waiter)
    logger.setLevel(level)


async def test_whole_passthrough_answer(client, auth_headers, access_lines):
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 200
    body = await response.read()
    [line] = access_lines()
    fields = line.fields
    assert fields["bytes_out"] == len(body) > 0
    assert fields["usage"] == FAKE_USAGE
    # The body was streamed upstream, never parsed: the model is the one the answer names.
    assert fields["model"] == MODEL
    assert fields["upstream_request_id"] == "req_fake_0001"
    assert fields["pid"] == os.getpid()
    assert fields["client"] == "127.0.0.1"
    assert 0 < fields["ttfb_ms"] <= fields["duration_ms"]
    assert "ended" not in fields


async def test_streamed_passthrough_answer_with_include_usage(client, auth_headers, access_lines):
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": True}}
    response = await client.post("/v1/chat/completions", json=body, headers=auth_headers)
    assert response.status == 200
    assert (await response.read()).endswith(b"data: [DONE]\n\n")
    [line] = access_lines()
    fields = line.fields
    assert fields["usage"] == FAKE_USAGE
    assert 0 < fields["ttfb_ms"] <= fields["duration_ms"]
    assert fields["upstream_request_id"] == "req_fake_0001"
    assert "ended" not in fields


async def test_streamed_answer_without_usage_has_none(client, auth_headers, access_lines):
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth_headers)
    await response.read()
    [line] = access_lines()
    assert "usage" not in line.fields and "ttfb_ms" in line.fields


async def test_the_time_to_first_byte_is_the_first_chunks_not_the_last(client, auth_headers, fake_openai, access_waiter):
    fake_openai.gate = asyncio.Event()  # the upstream pauses after its first word
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth_headers)
    await response.content.readuntil(b"\n\n")
    first_received = time.perf_counter()
    await asyncio.sleep(0.2)  # the upstream's pause itself, so that the last chunk comes well after the first
    released = time.perf_counter()
    fake_openai.gate.set()
    await response.read()
    await access_waiter.written.wait()
    fields = access_waiter.records[0].fields
    # The first byte went out before the client read it, the end came after the pause:
    # (end - first byte) >= (release - first read), give or take the fields' rounding.
    assert fields["duration_ms"] - fields["ttfb_ms"] >= (released - first_received) * 1000 - 0.02


async def test_model_of_a_parsed_body_is_the_one_sent_upstream(client, fake_openai, access_lines):
    # override_params makes the gateway read the body, and changes the model it sends.
    config = {"provider": "openai", "custom_host": fake_openai.url, "override_params": {"model": "gpt-override"}}
    headers = {"x-portkey-config": orjson.dumps(config).decode(), "Authorization": f"Bearer {TEST_KEY}"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200
    [line] = access_lines()
    assert line.fields["model"] == "gpt-override"


@pytest.mark.parametrize(
    ("trusted", "client_address"),
    [("", "127.0.0.1"), ("10.0.0.0/8", "127.0.0.1"), ("127.0.0.1, 10.0.0.0/8", "203.0.113.7")],
    ids=["no-trusted-proxies", "peer-not-trusted", "peer-trusted"],
)
async def test_client_address_through_trusted_proxies(
    aiohttp_client, auth_headers, access_lines, trusted, client_address
):
    client = await aiohttp_client(create_app(Settings(trusted_proxies=TrustedProxies.parse(trusted))))
    headers = {**auth_headers, "X-Forwarded-For": "198.51.100.1, 203.0.113.7, 10.0.0.5"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200
    [line] = access_lines()
    assert line.fields["client"] == client_address


async def test_client_address_from_several_forwarded_for_lines(aiohttp_client, auth_headers, access_lines):
    client = await aiohttp_client(create_app(Settings(trusted_proxies=TrustedProxies.parse("127.0.0.1"))))
    # The client forged the first line; the proxy added its own line after it.
    headers = CIMultiDict(auth_headers)
    headers.add("X-Forwarded-For", "6.6.6.6")
    headers.add("X-Forwarded-For", "203.0.113.7")
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200
    [line] = access_lines()
    assert line.fields["client"] == "203.0.113.7"


async def test_ended_client_closed(client, fake_openai, auth_headers, access_waiter):
    fake_openai.gate = asyncio.Event()  # the stream pauses after its first word
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth_headers)
    assert (await response.content.readany()).startswith(b"data: ")
    response.close()
    await asyncio.wait_for(fake_openai.disconnected.wait(), 10)
    await asyncio.wait_for(access_waiter.written.wait(), 10)
    [line] = access_waiter.records
    assert line.fields["status"] == 499 and line.fields["ended"] == "client_closed"
    assert "ttfb_ms" in line.fields
    assert "failed" not in line.fields  # the client left; no attempt failed


async def test_ended_client_closed_before_the_first_byte(client, fake_openai, auth_headers, access_waiter):
    fake_openai.hang = asyncio.Event()  # never set: the upstream has not answered yet
    request = asyncio.ensure_future(client.post("/v1/chat/completions", json=CHAT, headers=auth_headers))
    await asyncio.wait_for(fake_openai.request_seen.wait(), 10)
    request.cancel()  # the client hangs up while the gateway waits for the upstream
    await asyncio.wait_for(fake_openai.disconnected.wait(), 10)
    await asyncio.wait_for(access_waiter.written.wait(), 10)
    [line] = access_waiter.records
    # Not a shutdown's 503: nothing cut this request but its client.
    assert line.fields["status"] == 499 and line.fields["ended"] == "client_closed"


async def test_ended_upstream_error(client, fake_openai, auth_headers, access_lines):
    fake_openai.die_after_chunks = 2
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth_headers)
    assert b"event: error" in await response.read()
    [line] = access_lines()
    assert line.fields["ended"] == "upstream_error" and line.fields["failed"] == "after_first_byte"


async def test_ended_idle_timeout(aiohttp_client, fake_openai, auth_headers, access_lines):
    client = await aiohttp_client(create_app(Settings(idle_timeout=0.2)))
    fake_openai.gate = asyncio.Event()  # never set: the upstream goes silent mid-stream
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=auth_headers)
    assert b"stream_idle_timeout" in await response.read()
    [line] = access_lines()
    assert line.fields["ended"] == "idle_timeout" and line.fields["stream_error"] == "stream_idle_timeout"


async def test_debug_line_names_each_attempt_without_secrets(client, auth_headers, caplog):
    caplog.set_level(logging.DEBUG, logger="gateway")
    secret = "AIza-secret-in-the-query"
    response = await client.post(
        f"/v1/chat/completions?api-version=2024-10-21&key={secret}", json=CHAT, headers=auth_headers
    )
    assert response.status == 200
    [attempt] = [r for r in caplog.records if r.name == "gateway.attempt"]
    assert attempt.levelno == logging.DEBUG
    fields = attempt.fields
    base = auth_headers["x-portkey-custom-host"]
    assert fields["url"] == f"{base}/chat/completions?api-version=2024-10-21&key=REDACTED"
    assert fields["provider"] == "openai" and fields["status"] == 200 and fields["target"] == "config"
    assert fields["ms"] >= 0 and fields["upstream_request_id"] == "req_fake_0001"
    logged = [r.getMessage() + orjson.dumps(getattr(r, "fields", {}), default=str).decode() for r in caplog.records]
    assert not any(secret in text or TEST_KEY in text for text in logged)


async def test_debug_line_of_an_attempt_that_could_not_connect(client, caplog, unused_tcp_port):
    caplog.set_level(logging.DEBUG, logger="gateway")
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": f"http://127.0.0.1:{unused_tcp_port}/v1",
        "Authorization": f"Bearer {TEST_KEY}",
    }
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 502
    [attempt] = [r for r in caplog.records if r.name == "gateway.attempt"]
    assert attempt.fields["url"] == f"http://127.0.0.1:{unused_tcp_port}/v1/chat/completions"
    assert attempt.fields["error"] and attempt.fields["status"] == 502


async def test_no_debug_line_at_info(client, auth_headers, access_lines, caplog):
    await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert [r for r in caplog.records if r.name == "gateway.attempt"] == []


async def test_usage_of_a_stream_whose_usage_event_is_cut_in_two(client, aiohttp_server, access_lines):
    # The upstream sends the stream up to the middle of the "usage" key, and the rest
    # only once the client has received that much: the gateway must have read the
    # usage event in two separate chunks.
    cut = SSE_WITH_USAGE.rindex(b'"usage":{') + 4
    rest_may_go = asyncio.Event()

    async def split_stream(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(SSE_WITH_USAGE[:cut])
        await rest_may_go.wait()
        await response.write(SSE_WITH_USAGE[cut:])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", split_stream)
    upstream = await aiohttp_server(app)
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": str(upstream.make_url("/v1")),
        "Authorization": f"Bearer {TEST_KEY}",
    }
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers)
    received = b""
    while len(received) < cut:
        received += await asyncio.wait_for(response.content.readany(), 10)
    rest_may_go.set()
    assert received + await response.read() == SSE_WITH_USAGE  # relayed byte for byte
    [line] = access_lines()
    assert line.fields["usage"] == OPENAI_EXPECTED.fields()
