"""Fixtures: the fake Gemini API, and the official OpenAI SDK pointed at the gateway."""

from __future__ import annotations

import pytest

from tests.conftest import openai_sdk
from tests.fakes.google import API_KEY_PREFIX

GEMINI_KEY = API_KEY_PREFIX + "0123456789"


@pytest.fixture
def gemini_headers(fake_gemini) -> dict[str, str]:
    return {"x-portkey-provider": "google", "x-portkey-custom-host": fake_gemini.url}


@pytest.fixture
async def gemini(gateway, gemini_headers):
    """The official OpenAI SDK talking to Gemini through the gateway."""
    client = openai_sdk(gateway, GEMINI_KEY, gemini_headers)
    yield client
    await client.close()
