"""End to end: the official Anthropic SDK → gateway /v1/messages → (fake) Vertex AI:
Claude's own protocol relayed (the body as rawPredict takes it), Gemini translated."""

from __future__ import annotations

import anthropic
import orjson
import pytest

from tests.providers.messages.conftest import anthropic_sdk

from .conftest import PROJECT


@pytest.fixture
async def claude_sdk(gateway, vertex_headers):
    client = anthropic_sdk(gateway, "unused-oauth-instead", vertex_headers)
    yield client
    await client.close()


async def test_claude_whole_answer(claude_sdk, fake_vertex):
    message = await claude_sdk.messages.create(
        model="claude-sonnet-4@20250514", max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
    )
    assert message.content[0].text == "You said: Hello there"
    upstream = fake_vertex.last
    assert upstream.path == (
        f"/v1/projects/{PROJECT}/locations/us-central1/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict"
    )
    body = orjson.loads(upstream.body)
    assert "model" not in body and body["anthropic_version"] == "vertex-2023-10-16"
    assert upstream.headers["Authorization"].startswith("Bearer ")


async def test_claude_stream_is_relayed(claude_sdk, fake_vertex):
    async with claude_sdk.messages.stream(
        model="claude-sonnet-4@20250514", max_tokens=64, messages=[{"role": "user", "content": "Hello stream"}]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "You said: Hello stream" and final.stop_reason == "end_turn"
    assert fake_vertex.last.path.endswith(":streamRawPredict")


async def test_gemini_on_vertex_is_translated(claude_sdk, fake_vertex):
    message = await claude_sdk.messages.create(
        model="gemini-2.5-flash", max_tokens=64, messages=[{"role": "user", "content": "Hello Gemini"}]
    )
    assert message.content[0].text == "You said: Hello Gemini" and message.stop_reason == "end_turn"
    assert fake_vertex.last.path.endswith("/publishers/google/models/gemini-2.5-flash:generateContent")


async def test_vertex_errors_in_anthropics_shape(claude_sdk):
    with pytest.raises(anthropic.NotFoundError) as raised:
        await claude_sdk.messages.create(model="gemini-missing-1", max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.body["type"] == "error"


async def test_claude_stream_that_ends_early_ends_with_an_error(claude_sdk, fake_vertex):
    fake_vertex.anthropic.end_after = 4  # a clean end of the connection, before message_stop
    events = []
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with claude_sdk.messages.stream(
            model="claude-sonnet-4@20250514", max_tokens=64, messages=[{"role": "user", "content": "Hello there friend"}]
        ) as stream:
            async for event in stream:
                events.append(event.type)
    assert "message_stop" not in events and "content_block_delta" in events
    assert "incomplete" in str(raised.value)


async def test_claude_error_event_is_relayed_once(claude_sdk, fake_vertex):
    fake_vertex.anthropic.error_event_after = 3
    with pytest.raises(anthropic.APIStatusError) as raised:
        async with claude_sdk.messages.stream(
            model="claude-sonnet-4@20250514", max_tokens=64, messages=[{"role": "user", "content": "Hello there friend"}]
        ) as stream:
            async for _ in stream:
                pass
    assert raised.value.body["error"]["type"] == fake_vertex.anthropic.error_event_type
