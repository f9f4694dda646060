"""Routing tests: a gateway whose randomness and sleeps are under the test's control."""

from __future__ import annotations

import inspect
import json
from random import Random

import openai
import pytest

from gateway.app import create_app
from gateway.routing import ROUTING_TOOLS, RoutingTools
from tests.conftest import TEST_KEY

# The wall clock the gateway sees (for retry-after given as an HTTP date).
NOW = 1_800_000_000.0


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the gateway asked for, in seconds (none of them really waited)."""
    return []


@pytest.fixture
def seed() -> int:
    return 1234


@pytest.fixture
async def gateway(aiohttp_server, settings, sleeps, seed):
    app = create_app(settings)

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    app[ROUTING_TOOLS] = RoutingTools(random=Random(seed).random, sleep=sleep, now=lambda: NOW)
    return await aiohttp_server(app)


@pytest.fixture
async def sdk_for(gateway):
    """The official SDK pointed at the gateway with a given config and headers."""
    clients = []

    def make(config: dict | None = None, **headers: str) -> openai.AsyncOpenAI:
        if config is not None:
            headers["x-portkey-config"] = json.dumps(config)
        client = openai.AsyncOpenAI(
            base_url=str(gateway.make_url("/v1")), api_key=TEST_KEY, default_headers=headers, max_retries=0
        )
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


def leaf(fake, **fields) -> dict:
    """A config target that reaches ``fake``."""
    return {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake.url, **fields}


async def chat(client: openai.AsyncOpenAI, *, stream: bool = False, content: str = "Hello there", **params):
    """One chat call; returns (response headers, the answer's text)."""
    raw = await client.chat.completions.with_raw_response.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": content}], stream=stream, **params
    )
    parsed = raw.parse()
    if inspect.isawaitable(parsed):  # plain answers parse asynchronously, streams do not
        parsed = await parsed
    if not stream:
        return raw.headers, parsed.choices[0].message.content
    text = ""
    async for chunk in parsed:
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
    return raw.headers, text
