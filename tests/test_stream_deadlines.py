"""Streams that cannot hang: what bounds the wait for a client's next byte.

* Translated streams: time without translator *output* is silence, so an upstream
  that keeps sending bytes that yield nothing (pings, junk) still times out.
* The first byte a client sees comes within the request's timeout, counted from
  sending the request, however the upstream trickles.
* An event (SSE) or frame (event-stream) still unfinished past 1 MiB is a 502
  ``upstream_protocol_error``: nothing buffers garbage without limit.
* A request timeout (config ``request_timeout`` or ``x-portkey-request-timeout``) also
  bounds silence mid-stream when no ``idle_timeout`` is set.

Timeouts here are a few hundred ms; every request runs under ``HANG_BOUND``, far
above them and far below the defaults (--request-timeout 600 s, --idle-timeout 300
s) that the bugs fell back to: reaching it means the request hung.
"""

from __future__ import annotations

import asyncio
import struct
import zlib

import orjson
import pytest

from gateway.errors import UpstreamBroken
from gateway.streaming.eventstream import EventStreamDecoder
from gateway.streaming.sse import MAX_EVENT_BYTES, SSEDecoder
from tests.conftest import TEST_KEY
from tests.fakes.anthropic import FakeAnthropic, sse
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY, FakeBedrock
from tests.fakes.eventstream import encode_frame
from tests.fakes.serving import served

HANG_BOUND = 10  # seconds
ANTHROPIC_KEY = "sk-ant-test-0123456789"
CLAUDE_CHAT = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 100,
    "stream": True,
    "messages": [{"role": "user", "content": "Hello"}],
}
PING = sse("ping", {})
# An answer that started well: the client has its first chunks when the nonsense begins.
STARTED = [
    sse("message_start", {"message": {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5",
                                      "content": [], "stop_reason": None, "usage": {"input_tokens": 3, "output_tokens": 1}}}),
    sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
    sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
]


@pytest.fixture
async def anthropic(aiohttp_server):
    fake = FakeAnthropic()
    await served(aiohttp_server, fake)
    yield fake
    fake.released.set()  # let a handler still streaming end before its server closes
    if fake.gate is not None:
        fake.gate.set()


@pytest.fixture
async def bedrock(aiohttp_server):
    fake = FakeBedrock()
    await served(aiohttp_server, fake, "")
    yield fake
    fake.released.set()


def claude_config(fake: FakeAnthropic, **settings) -> dict[str, str]:
    config = {"provider": "anthropic", "api_key": ANTHROPIC_KEY, "custom_host": fake.url, **settings}
    return {"x-portkey-config": orjson.dumps(config).decode()}


async def post(client, body: dict, headers: dict[str, str]):
    """The response, read to its end, and its body; failing if that takes HANG_BOUND."""
    async with asyncio.timeout(HANG_BOUND):
        response = await client.post("/v1/chat/completions", json=body, headers=headers)
        return response, await response.read()


def error_of(body: bytes) -> dict:
    return orjson.loads(body)["error"]


def sse_events(body: bytes) -> list[dict | str]:
    events = []
    for block in body.split(b"\n\n"):
        for line in block.split(b"\n"):  # an error event may be named: "event: error"
            if line.startswith(b"data: "):
                data = line[len(b"data: ") :]
                events.append(data.decode() if data == b"[DONE]" else orjson.loads(data))
    return events


def stream_error(body: bytes) -> dict:
    """The error event that ends a failed stream (never after a [DONE])."""
    events = sse_events(body)
    assert "[DONE]" not in events
    assert "error" in events[-1], events[-1]
    return events[-1]["error"]


# --- 9: translated streams whose bytes yield nothing ---------------------------------


@pytest.mark.parametrize(
    "junk",
    [
        pytest.param(b"x" * 16384, id="no-line-end"),
        pytest.param(b"data: " + b"y" * 16000 + b"\n", id="data-lines-without-blank-line"),
    ],
)
async def test_an_event_that_never_ends_is_a_502(client, anthropic, junk):
    anthropic.raw_stream, anthropic.raw_repeat, anthropic.raw_every = [], junk, 0.002
    response, body = await post(client, CLAUDE_CHAT, claude_config(anthropic))
    assert response.status == 502
    assert error_of(body)["code"] == "upstream_protocol_error"
    assert "1 MiB" in error_of(body)["message"]


async def test_an_event_that_never_ends_mid_stream_ends_it_with_an_error(client, anthropic):
    anthropic.raw_stream, anthropic.raw_repeat, anthropic.raw_every = STARTED, b"z" * 16384, 0.002
    response, body = await post(client, CLAUDE_CHAT, claude_config(anthropic))
    assert response.status == 200
    assert sse_events(body)[1]["choices"][0]["delta"]["content"] == "Hi"
    assert stream_error(body)["code"] == "upstream_protocol_error"


async def test_pings_alone_are_silence_before_the_first_byte(client, anthropic):
    anthropic.raw_stream, anthropic.raw_repeat = [], PING  # a ping every 10 ms, nothing else
    response, body = await post(client, CLAUDE_CHAT, claude_config(anthropic, idle_timeout=300))
    assert response.status == 504
    assert error_of(body)["code"] == "stream_idle_timeout"


async def test_pings_alone_are_silence_mid_stream(client, anthropic, access_lines):
    anthropic.raw_stream, anthropic.raw_repeat = STARTED, PING
    response, body = await post(client, CLAUDE_CHAT, claude_config(anthropic, idle_timeout=300))
    assert response.status == 200
    assert sse_events(body)[1]["choices"][0]["delta"]["content"] == "Hi"
    assert stream_error(body)["code"] == "stream_idle_timeout"
    [line] = access_lines()
    assert (line.fields["failed"], line.fields["stream_error"]) == ("after_first_byte", "stream_idle_timeout")


async def test_the_first_byte_comes_within_the_request_timeout(client, anthropic):
    # Counted from sending the request: a trickle of pings does not stretch it, and
    # the (longer) idle timeout does not replace it.
    anthropic.raw_stream, anthropic.raw_repeat = [], PING
    config = claude_config(anthropic, request_timeout=300, idle_timeout=60_000)
    response, body = await post(client, CLAUDE_CHAT, config)
    assert response.status == 408
    assert error_of(body)["type"] == "timeout_error"
    assert "300 ms" in error_of(body)["message"]


def huge_frame_prelude(total_length: int) -> bytes:
    """The valid start of an event-stream frame that claims ``total_length`` bytes."""
    prelude = struct.pack(">II", total_length, 0)
    return prelude + struct.pack(">I", zlib.crc32(prelude))


async def test_a_bedrock_frame_larger_than_the_cap_is_a_502(client, bedrock):
    # botocore would wait for up to 24 MiB of one frame; we stop at 1 MiB.
    bedrock.raw_stream, bedrock.raw_repeat, bedrock.raw_every = [huge_frame_prelude(20 * 2**20)], b"\0" * 16384, 0.002
    headers = {
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": bedrock.url,
        "x-portkey-aws-access-key-id": ACCESS_KEY,
        "x-portkey-aws-secret-access-key": SECRET_KEY,
        "x-portkey-aws-region": "us-east-1",
    }
    body = {**CLAUDE_CHAT, "model": "anthropic.claude-3-5-sonnet-20241022-v2:0"}
    response, answer = await post(client, body, headers)
    assert response.status == 502
    assert error_of(answer)["code"] == "upstream_protocol_error"


# --- 10: a request timeout bounds silence mid-stream ---------------------------------


async def test_request_timeout_in_the_config_bounds_a_stalled_passthrough_stream(client, make_fake, access_lines):
    fake = await make_fake()
    fake.gate = asyncio.Event()  # one word, then silence for good
    config = {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake.url, "request_timeout": 300}
    chat = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Hello"}]}
    response, body = await post(client, chat, {"x-portkey-config": orjson.dumps(config).decode()})
    assert response.status == 200
    assert sse_events(body)[1]["choices"][0]["delta"]["content"] == "You"
    error = stream_error(body)
    assert error["code"] == "stream_idle_timeout" and "0.3 s" in error["message"]
    [line] = access_lines()
    assert line.fields["stream_error"] == "stream_idle_timeout"


async def test_request_timeout_header_bounds_a_stalled_passthrough_stream(client, make_fake):
    fake = await make_fake()
    fake.gate = asyncio.Event()
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": fake.url,
        "Authorization": f"Bearer {TEST_KEY}",
        "x-portkey-request-timeout": "300",
    }
    chat = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": "Hello"}]}
    response, body = await post(client, chat, headers)
    assert response.status == 200
    assert stream_error(body)["code"] == "stream_idle_timeout"


async def test_request_timeout_bounds_a_stalled_translated_stream(client, anthropic):
    anthropic.gate = asyncio.Event()  # the first text delta, then silence for good
    response, body = await post(client, CLAUDE_CHAT, claude_config(anthropic, request_timeout=300))
    assert response.status == 200
    assert sse_events(body)[1]["choices"][0]["delta"]["content"] == "You"
    error = stream_error(body)
    assert error["code"] == "stream_idle_timeout" and "0.3 s" in error["message"]


# --- the cap, at the decoders ---------------------------------------------------------


def test_the_sse_cap_counts_one_event_not_the_stream():
    decoder = SSEDecoder()
    event = b"event: content_block_delta\ndata: " + b"a" * 1000 + b"\n\n"
    assert len(decoder.feed(event * 3000)) == 3000  # 3 MB of whole events: fine
    big = b"data: " + b"b" * (MAX_EVENT_BYTES - 100) + b"\n\n"
    assert len(decoder.feed(big[:5000]) + decoder.feed(big[5000:])) == 1  # just under the cap
    decoder.feed(b": a comment\n" + b"data: c\n" * 1000)
    with pytest.raises(UpstreamBroken) as caught:
        decoder.feed(b"data: " + b"c" * MAX_EVENT_BYTES)
    assert (caught.value.status, caught.value.code) == (502, "upstream_protocol_error")


def test_the_event_stream_cap_counts_one_frame():
    decoder = EventStreamDecoder()
    frame = encode_frame({":event-type": "contentBlockDelta", ":message-type": "event"}, b"{}" * 5000)
    assert len(decoder.feed(frame * 300)) == 300  # 3 MB of whole frames: fine
    with pytest.raises(UpstreamBroken) as caught:
        decoder.feed(huge_frame_prelude(4 * MAX_EVENT_BYTES) + b"\0" * MAX_EVENT_BYTES)
    assert caught.value.code == "upstream_protocol_error"
