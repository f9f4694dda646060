"""Fixtures: the fake Cohere API, and the official OpenAI SDK pointed at the gateway."""

from __future__ import annotations

import pytest

from tests.conftest import openai_sdk
from tests.fakes.cohere import API_KEY_PREFIX, FakeCohere
from tests.fakes.serving import served

COHERE_KEY = API_KEY_PREFIX + "-0123456789"


@pytest.fixture
async def fake_cohere(aiohttp_server):
    return await served(aiohttp_server, FakeCohere(), "")


@pytest.fixture
async def cohere(gateway, fake_cohere):
    client = openai_sdk(gateway, COHERE_KEY, {"x-portkey-provider": "cohere", "x-portkey-custom-host": fake_cohere.url})
    yield client
    await client.close()
