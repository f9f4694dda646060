"""Fixtures: the official Anthropic SDK pointed at the gateway's /v1/messages, with
an OpenAI-compatible fake or the fake Gemini API behind it."""

from __future__ import annotations

import anthropic
import pytest

from tests.conftest import TEST_KEY
from tests.providers.google.conftest import GEMINI_KEY


def anthropic_sdk(gateway, api_key: str, headers: dict[str, str]) -> anthropic.AsyncAnthropic:
    """The official Anthropic SDK pointed at the gateway, as Claude Code would be (no retries)."""
    return anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("/")).rstrip("/"), api_key=api_key, default_headers=headers, max_retries=0
    )


@pytest.fixture
async def claude_to_openai(gateway, fake_openai):
    """The Anthropic SDK → gateway → (fake) OpenAI, which checks bodies as OpenAI does."""
    fake_openai.strict = True
    client = anthropic_sdk(gateway, TEST_KEY, {"x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url})
    yield client
    await client.close()


@pytest.fixture
async def claude_to_gemini(gateway, fake_gemini):
    client = anthropic_sdk(gateway, GEMINI_KEY, {"x-portkey-provider": "google", "x-portkey-custom-host": fake_gemini.url})
    yield client
    await client.close()
