"""/v1/messages through routing: usage in the access line, and a fallback from an
OpenAI-compatible provider to Gemini before the first byte, invisible to the client."""

from __future__ import annotations

import json

from tests.conftest import TEST_KEY

from .conftest import GEMINI_KEY, anthropic_sdk


async def test_usage_of_a_translated_messages_stream_is_logged(claude_to_openai, access_lines):
    async with claude_to_openai.messages.stream(
        model="gpt-4o-mini", max_tokens=64, messages=[{"role": "user", "content": "hello there"}]
    ) as stream:
        await stream.get_final_message()
    [line] = access_lines()
    usage = line.fields["usage"]
    assert usage["input"] == 2 and usage["output"] == 4  # the fake's counts: 2 words in, "You said: hello there" out


async def test_a_failing_openai_stream_falls_back_to_gemini(gateway, fake_openai, fake_gemini):
    fake_openai.error = (429, {"error": {"message": "slow down", "type": "rate_limit_error", "param": None, "code": None}})
    config = {
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake_openai.url},
            {
                "provider": "google",
                "api_key": GEMINI_KEY,
                "custom_host": fake_gemini.url,
                "override_params": {"model": "gemini-2.5-flash"},
            },
        ],
    }
    client = anthropic_sdk(gateway, "unused", {"x-portkey-config": json.dumps(config)})
    async with client.messages.stream(
        model="gpt-4o-mini", max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        headers = stream.response.headers
    await client.close()
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert headers["x-portkey-provider"] == "google"
    assert len(fake_openai.requests) == 1 and fake_gemini.last.json["contents"][0]["parts"] == [{"text": "Hello there"}]
