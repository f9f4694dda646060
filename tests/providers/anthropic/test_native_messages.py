"""End to end: the official Anthropic SDK → gateway /v1/messages → (fake) Anthropic.

With provider ``anthropic`` the native route is a byte relay: the request body the
SDK sent is what Anthropic receives, and Anthropic's answer (JSON, SSE events,
errors) is what the SDK reads.
"""

from __future__ import annotations

import asyncio

import anthropic
import orjson
import pytest

from tests.fakes.anthropic import MESSAGE_ID, sse, stream_events, tool_use

from .conftest import ANTHROPIC_KEY

# A made-up name: SDKs warn about models they know to be deprecated.
MODEL = "claude-test-1"


async def test_plain_message(claude_native, fake_anthropic):
    raw = await claude_native.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
    )
    message = await raw.parse()
    assert message.id == MESSAGE_ID
    assert message.content[0].text == "You said: Hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 2 and message.usage.output_tokens == 4
    assert raw.headers["x-portkey-provider"] == "anthropic"
    assert raw.headers["request-id"] == "req_fake_anthropic"

    upstream = fake_anthropic.last
    assert upstream.headers["x-api-key"] == ANTHROPIC_KEY
    # The SDK's own version header is passed on.
    assert upstream.headers["anthropic-version"] == raw.http_request.headers["anthropic-version"]
    assert upstream.json == {"model": MODEL, "max_tokens": 64, "messages": [{"role": "user", "content": "Hello there"}]}


async def test_stream_with_the_sdk_helper(claude_native, fake_anthropic):
    fake_anthropic.reply = [tool_use("toolu_01A", "get_weather", {"city": "Paris"})]
    async with claude_native.messages.stream(
        model=MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": "Paris?"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}],
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert kinds[0] == "message_start" and kinds[-1] == "message_stop"
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == {"city": "Paris"}
    assert final.usage.output_tokens == 10


async def test_stream_bytes_are_relayed_untouched(client, anthropic_headers, fake_anthropic):
    params = {"model": MODEL, "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "Hello there"}]}
    body = orjson.dumps(params)
    response = await client.post(
        "/v1/messages",
        data=body,
        headers={
            **anthropic_headers,
            "x-api-key": ANTHROPIC_KEY,
            "anthropic-version": "2023-06-01",
            "anthropic-beta": "fine-grained-tool-streaming-2025-05-14",
            "content-type": "application/json",
        },
    )
    assert response.status == 200
    assert response.content_type == "text/event-stream"
    expected = b"".join(sse(name, data) for name, data in stream_events(fake_anthropic.message(params), []))
    assert await response.read() == expected
    assert fake_anthropic.last.body == body
    assert fake_anthropic.last.headers["anthropic-beta"] == "fine-grained-tool-streaming-2025-05-14"


async def test_stream_reaches_the_sdk_event_by_event(claude_native, fake_anthropic):
    fake_anthropic.gate = asyncio.Event()
    stream = await claude_native.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "one two"}], stream=True
    )
    async with asyncio.timeout(10):
        async for event in stream:
            if event.type == "content_block_delta":
                break
    assert event.delta.text == "You"
    fake_anthropic.gate.set()
    rest = [event.type async for event in stream]
    assert rest[-1] == "message_stop"


async def test_bad_key_is_anthropics_own_401(gateway, anthropic_headers):
    client = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("/")).rstrip("/"), api_key="sk-wrong", default_headers=anthropic_headers, max_retries=0
    )
    async with client:
        with pytest.raises(anthropic.AuthenticationError) as raised:
            await client.messages.create(model=MODEL, max_tokens=8, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.body == {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}}


async def test_missing_key_is_refused_by_the_gateway(client, anthropic_headers, fake_anthropic):
    response = await client.post("/v1/messages", json={"model": MODEL}, headers=anthropic_headers)
    assert response.status == 401
    # The gateway's own error, told the way Anthropic's API tells it (issue 9, item 7).
    body = await response.json()
    assert body["type"] == "error" and body["error"]["type"] == "authentication_error"
    assert "no API key for provider 'anthropic'" in body["error"]["message"]
    assert fake_anthropic.requests == []


async def test_overloaded_error_event_mid_stream_raises_in_the_sdk(claude_native, fake_anthropic):
    fake_anthropic.error_event_after = 5
    fake_anthropic.gate = asyncio.Event()
    seen, raised = await stream_until_error(claude_native, fake_anthropic)
    assert "content_block_delta" in seen
    assert raised.body == {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}


async def test_version_header_from_portkey_header_beats_the_sdks(claude_native, fake_anthropic):
    await claude_native.messages.create(
        model=MODEL,
        max_tokens=8,
        messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"x-portkey-anthropic-version": "2024-10-22", "x-portkey-anthropic-beta": "a-1,b-2"},
    )
    assert fake_anthropic.last.headers["anthropic-version"] == "2024-10-22"
    assert fake_anthropic.last.headers["anthropic-beta"] == "a-1,b-2"


async def test_connection_lost_mid_stream_raises_in_the_sdk(claude_native, fake_anthropic):
    # The gateway cannot re-frame a relayed stream, so it ends it with an event named
    # "error", which the Anthropic SDK raises on: the broken answer never looks finished.
    fake_anthropic.abort_after = 6
    fake_anthropic.gate = asyncio.Event()
    seen, raised = await stream_until_error(claude_native, fake_anthropic)
    assert "message_stop" not in seen
    assert raised.body["type"] == "error" and raised.body["error"]["type"] == "api_error"
    assert "upstream connection failed in the middle of its answer" in raised.body["error"]["message"]


async def stream_until_error(claude_native, fake_anthropic):
    """Stream a message, letting the fake go on after the first delta; (event types, the SDK's error)."""
    stream = await claude_native.messages.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    seen = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        async for event in stream:
            seen.append(event.type)
            if event.type == "content_block_delta":
                fake_anthropic.gate.set()
    return seen, raised.value
