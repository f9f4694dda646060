"""The provider declaration: URLs, headers, which calls are translated or relayed."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import Target
from gateway.errors import GatewayError, Unauthorized
from gateway.providers.anthropic import Anthropic
from gateway.providers.base import Call
from gateway.providers.registry import get_provider

PROVIDER = Anthropic()


def call(endpoint: str, *, method: str = "POST", headers=None, json=None, body_stream=None) -> Call:
    return Call(
        method=method,
        endpoint=endpoint,
        query_string="",
        headers=CIMultiDictProxy(CIMultiDict(headers or {})),
        body=orjson.dumps(json) if json is not None else None,
        json=json,
        body_stream=body_stream,
    )


CHAT = {"model": "claude-test-1", "messages": [{"role": "user", "content": "Hi"}]}


def test_registered_as_anthropic():
    assert isinstance(get_provider("anthropic"), Anthropic)


async def test_chat_goes_to_messages_on_the_default_base_with_x_api_key():
    target = Target(provider="anthropic", api_key="sk-ant-secret")
    chat = call("chat/completions", json=CHAT, headers={"Authorization": "Bearer sk-ant-secret", "openai-beta": "x"})
    assert PROVIDER.needs_body(chat)
    request = PROVIDER.prepare(chat, target)
    await PROVIDER.authorize(request, target, app=None)
    assert str(request.url) == "https://api.anthropic.com/v1/messages"
    assert request.headers["x-api-key"] == "sk-ant-secret"
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert request.headers["content-type"] == "application/json"
    assert "Authorization" not in request.headers and "openai-beta" not in request.headers
    assert orjson.loads(request.body)["max_tokens"] == 4096


def test_native_messages_are_streamed_through_to_the_custom_host():
    async def body():
        yield b"{}"

    stream = body()
    native = call("messages", body_stream=stream, headers={"anthropic-beta": "b-1", "content-type": "application/json"})
    assert not PROVIDER.needs_body(native)
    target = Target(provider="anthropic", custom_host="http://127.0.0.1:9/v1")
    request = PROVIDER.prepare(native, target)
    assert str(request.url) == "http://127.0.0.1:9/v1/messages"
    assert request.body is stream
    assert request.headers["anthropic-beta"] == "b-1"
    assert PROVIDER.translator(native) is None


def test_portkey_options_beat_client_headers():
    target = Target(provider="anthropic", options={"anthropic_version": "2024-01-01", "anthropic_beta": "p-1"})
    native = call("messages/count_tokens", headers={"anthropic-version": "2023-06-01", "anthropic-beta": "c-1"})
    request = PROVIDER.prepare(native, target)
    assert request.headers["anthropic-version"] == "2024-01-01"
    assert request.headers["anthropic-beta"] == "p-1"


@pytest.mark.parametrize("endpoint", ["embeddings", "images/generations", "audio/speech"])
def test_endpoints_anthropic_does_not_serve(endpoint):
    with pytest.raises(GatewayError) as raised:
        PROVIDER.prepare(call(endpoint, json={}), Target(provider="anthropic"))
    assert raised.value.status == 404
    assert raised.value.code == "unsupported_endpoint"


def test_chat_must_be_a_post():
    with pytest.raises(GatewayError) as raised:
        PROVIDER.prepare(call("chat/completions", method="GET"), Target(provider="anthropic"))
    assert raised.value.status == 405


async def test_no_key_is_a_401_not_an_empty_header():
    request = PROVIDER.prepare(call("messages"), Target(provider="anthropic"))
    with pytest.raises(Unauthorized):
        await PROVIDER.authorize(request, Target(provider="anthropic"), app=None)
