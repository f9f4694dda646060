"""Anthropic answers' token usage reaches the access line: translated (whole and
streamed, with or without include_usage) and native /v1/messages relayed as bytes."""

from __future__ import annotations

import pytest

from tests.providers.anthropic.conftest import ANTHROPIC_KEY

CHAT = {"model": "claude-sonnet-4-5", "messages": [{"role": "user", "content": "one two three"}], "max_tokens": 50}
CACHE = {"cache_read_input_tokens": 100, "cache_creation_input_tokens": 7}
# 3 input words + the cache counts; "You said: one two three" is 5 output words.
EXPECTED = {"input": 110, "output": 5, "cache_read": 100, "cache_write": 7, "reasoning": 0}


@pytest.fixture
def headers(anthropic_headers):
    return {**anthropic_headers, "Authorization": f"Bearer {ANTHROPIC_KEY}"}


async def test_translated_whole_answer(client, fake_anthropic, headers, access_lines):
    fake_anthropic.usage = CACHE
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200
    [line] = access_lines()
    assert line.fields["usage"] == EXPECTED
    assert line.fields["model"] == "claude-sonnet-4-5"
    assert line.fields["upstream_request_id"] == "req_fake_anthropic"


@pytest.mark.parametrize("include_usage", [False, True])
async def test_translated_stream(client, fake_anthropic, headers, access_lines, include_usage):
    fake_anthropic.usage = CACHE
    body = {**CHAT, "stream": True, "stream_options": {"include_usage": include_usage}}
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert (await response.read()).endswith(b"data: [DONE]\n\n")
    [line] = access_lines()
    assert line.fields["usage"] == EXPECTED
    assert 0 < line.fields["ttfb_ms"] <= line.fields["duration_ms"]


@pytest.mark.parametrize("stream", [False, True])
async def test_native_messages_relayed_as_bytes(client, fake_anthropic, anthropic_headers, access_lines, stream):
    fake_anthropic.usage = CACHE
    headers = {**anthropic_headers, "x-api-key": ANTHROPIC_KEY, "anthropic-version": "2023-06-01"}
    response = await client.post("/v1/messages", json={**CHAT, "stream": stream}, headers=headers)
    assert response.status == 200
    await response.read()
    [line] = access_lines()
    # A stream's input counts come in message_start, its output counts in message_delta.
    assert line.fields["usage"] == EXPECTED
    assert line.fields["model"] == "claude-sonnet-4-5"
