"""Fixtures: the fake Anthropic API, and both official SDKs pointed at the gateway."""

from __future__ import annotations

import anthropic
import pytest

from tests.conftest import openai_sdk

ANTHROPIC_KEY = "sk-ant-test-0123456789"


@pytest.fixture
def anthropic_headers(fake_anthropic) -> dict[str, str]:
    return {"x-portkey-provider": "anthropic", "x-portkey-custom-host": fake_anthropic.url}


@pytest.fixture
async def claude_via_openai(gateway, anthropic_headers):
    """The official OpenAI SDK talking to Claude through the gateway."""
    client = openai_sdk(gateway, ANTHROPIC_KEY, anthropic_headers)
    yield client
    await client.close()


@pytest.fixture
async def claude_native(gateway, anthropic_headers):
    """The official Anthropic SDK talking to the gateway's /v1/messages."""
    client = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("/")).rstrip("/"),
        api_key=ANTHROPIC_KEY,
        default_headers=anthropic_headers,
        max_retries=0,
    )
    yield client
    await client.close()
