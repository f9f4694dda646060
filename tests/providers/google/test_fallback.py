"""A Gemini stream that fails before its first byte falls back to Bedrock invisibly."""

from __future__ import annotations

import json

import pytest

from tests.conftest import openai_sdk
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY
from tests.providers.bedrock.samples import MODEL as BEDROCK_MODEL
from tests.providers.bedrock.samples import REGION
from tests.providers.google.conftest import GEMINI_KEY


@pytest.fixture
def fallback_config(fake_gemini, fake_bedrock) -> dict:
    return {
        "strategy": {"mode": "fallback"},
        "targets": [
            {"provider": "google", "api_key": GEMINI_KEY, "custom_host": fake_gemini.url},
            {
                "provider": "bedrock",
                "aws_access_key_id": ACCESS_KEY,
                "aws_secret_access_key": SECRET_KEY,
                "aws_region": REGION,
                "custom_host": fake_bedrock.url,
                "override_params": {"model": BEDROCK_MODEL},
            },
        ],
    }


async def stream_text(gateway, config) -> tuple[dict, str]:
    client = openai_sdk(gateway, "unused", {"x-portkey-config": json.dumps(config)})
    raw = await client.chat.completions.with_raw_response.create(
        model="gemini-2.5-flash", messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    text = ""
    async for chunk in raw.parse():
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    await client.close()
    return raw.headers, text


async def test_a_gemini_429_falls_back_to_bedrock_in_a_stream(
    gateway, fake_gemini, fake_bedrock, fallback_config, access_lines
):
    fake_gemini.error = (429, "RESOURCE_EXHAUSTED", "Resource has been exhausted (e.g. check quota).")
    headers, text = await stream_text(gateway, fallback_config)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert headers["x-portkey-provider"] == "bedrock"
    assert len(fake_gemini.requests) == 1 and len(fake_bedrock.requests) == 1
    attempts = access_lines()[0].fields["attempts"]
    assert [(a["provider"], a["status"]) for a in attempts] == [("google", 429), ("bedrock", 200)]


async def test_an_error_in_geminis_first_event_falls_back_too(gateway, fake_gemini, fake_bedrock, fallback_config):
    fake_gemini.error_event_after = 0  # 200, then an UNAVAILABLE error as the first event
    headers, text = await stream_text(gateway, fallback_config)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
