"""What the response cache's tests share: a counting upstream, and a client's calls."""

from __future__ import annotations

import orjson
import pytest

from tests.conftest import TEST_KEY
from tests.fakes.counting import CountingUpstream
from tests.fakes.serving import served

CACHE = {"mode": "simple", "max_age": 60}
HELLO = [{"role": "user", "content": "Hello"}]


@pytest.fixture(name="upstream")
async def counting_upstream(aiohttp_server):
    fake = CountingUpstream()
    await served(aiohttp_server, fake)
    yield fake
    if fake.gate is not None:
        fake.gate.set()


def config_headers(upstream, cache=CACHE, key=TEST_KEY, **config) -> dict[str, str]:
    config = {"provider": "openai", "api_key": key, "custom_host": upstream.url, **config}
    if cache is not None:
        config["cache"] = cache
    return {"x-portkey-config": orjson.dumps(config).decode()}


async def chat(client, headers, *, stream=False, **body):
    body = {"model": "gpt-4o-mini", "messages": HELLO, **body}
    if stream:
        body["stream"] = True
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    return response, await response.read()


def status_of(response) -> str:
    return response.headers["x-portkey-cache-status"]
