"""One error hierarchy, told in the client's protocol (issue 9, item 7).

``/v1/messages`` clients speak Anthropic's protocol, so the gateway's own errors
reach them as Anthropic's API tells errors (and the Anthropic SDK raises the right
exception); every other ``/v1/`` client gets the OpenAI shape. A wrong method is a 405
whatever the provider; an upstream answer too large to translate is a 502 of its own.
"""

from __future__ import annotations

import asyncio

import anthropic
import orjson
import pytest

from gateway.streaming import relay
from tests.conftest import TEST_KEY
from tests.fakes.anthropic import FakeAnthropic, sse
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY
from tests.fakes.serving import served

ANTHROPIC_KEY = "sk-ant-test-0123456789"
MESSAGES = {"model": "claude-test-1", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi"}]}
HANG_BOUND = 10  # seconds: far above the 300 ms idle limit below, far below the defaults


@pytest.fixture
async def fake_anthropic(aiohttp_server):
    fake = FakeAnthropic()
    await served(aiohttp_server, fake)
    yield fake
    fake.released.set()  # let a handler still streaming end before its server closes


def claude(fake: FakeAnthropic, **settings) -> dict[str, str]:
    config = {"provider": "anthropic", "api_key": ANTHROPIC_KEY, "custom_host": fake.url, **settings}
    return {"x-portkey-config": orjson.dumps(config).decode()}


def assert_anthropic_error(body: dict, kind: str) -> str:
    assert set(body) == {"type", "error"} and body["type"] == "error"
    assert set(body["error"]) == {"type", "message"} and body["error"]["type"] == kind
    return body["error"]["message"]


async def test_gateway_errors_on_messages_are_anthropic_shaped(client):
    response = await client.post("/v1/messages", json=MESSAGES, headers={"x-portkey-config": "{not json"})
    assert response.status == 400
    assert "not valid JSON" in assert_anthropic_error(await response.json(), "invalid_request_error")
    # The same mistake on the OpenAI surface keeps the OpenAI shape.
    response = await client.post("/v1/chat/completions", json=MESSAGES, headers={"x-portkey-config": "{not json"})
    assert (await response.json())["error"]["code"] == "invalid_config"


async def test_the_anthropic_sdk_raises_the_matching_exception(gateway, unused_tcp_port):
    # Nothing listens on the port: the gateway's own 502.
    headers = {"x-portkey-provider": "anthropic", "x-portkey-custom-host": f"http://127.0.0.1:{unused_tcp_port}/v1"}
    client = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("/")).rstrip("/"), api_key=ANTHROPIC_KEY, default_headers=headers, max_retries=0
    )
    async with client:
        with pytest.raises(anthropic.APIStatusError) as raised:
            await client.messages.create(**MESSAGES)
    assert raised.value.status_code == 502
    assert "could not connect to upstream" in assert_anthropic_error(raised.value.body, "api_error")


async def test_a_wrong_method_on_messages_is_an_anthropic_shaped_405(client):
    response = await client.put("/v1/messages", json=MESSAGES)
    assert response.status == 405
    assert "allowed: DELETE, GET, POST" in assert_anthropic_error(await response.json(), "invalid_request_error")


@pytest.mark.parametrize("provider", ["bedrock", "anthropic", "google", "vertex-ai", "cohere"])
async def test_a_wrong_method_is_a_405_for_every_provider(client, provider):
    config = {
        "provider": provider,
        "api_key": TEST_KEY,
        "aws_access_key_id": ACCESS_KEY,
        "aws_secret_access_key": SECRET_KEY,
        "aws_region": "us-east-1",
    }
    chat = {"model": "some-model", "messages": [{"role": "user", "content": "Hi"}]}
    response = await client.delete(
        "/v1/chat/completions", json=chat, headers={"x-portkey-config": orjson.dumps(config).decode()}
    )
    assert response.status == 405
    assert (await response.json())["error"]["code"] == "method_not_allowed"


async def test_an_answer_too_large_to_translate_is_a_502_not_a_413(client, fake_anthropic, monkeypatch):
    monkeypatch.setattr(relay, "MAX_TRANSLATED_BODY", 64)
    chat = {"model": "claude-test-1", "max_tokens": 16, "messages": [{"role": "user", "content": "Hi " * 40}]}
    response = await client.post("/v1/chat/completions", json=chat, headers=claude(fake_anthropic))
    assert response.status == 502
    error = (await response.json())["error"]
    assert (error["code"], error["type"]) == ("upstream_too_large", "api_error")


async def test_an_idle_stream_on_messages_ends_with_anthropics_error_event(client, fake_anthropic):
    started = sse("message_start", {"message": {"id": "msg_1", "type": "message", "role": "assistant",
                                                "model": "claude-test-1", "content": [], "stop_reason": None,
                                                "usage": {"input_tokens": 3, "output_tokens": 1}}})
    fake_anthropic.raw_stream = [started]  # then silence until released
    async with asyncio.timeout(HANG_BOUND):
        response = await client.post(
            "/v1/messages", json={**MESSAGES, "stream": True}, headers=claude(fake_anthropic, idle_timeout=300)
        )
        body = await response.read()
    assert response.status == 200
    assert body.startswith(started)
    last = body.rstrip(b"\n").split(b"\n\n")[-1]
    name, data = last.split(b"\n")
    assert name == b"event: error"
    message = assert_anthropic_error(orjson.loads(data.removeprefix(b"data: ")), "timeout_error")
    assert message == "upstream sent nothing for 0.3 s in the middle of its answer"
