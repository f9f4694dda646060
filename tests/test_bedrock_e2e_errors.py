"""Bedrock errors end to end: what the client sees for bad credentials, bad input,
upstream errors, exception frames and truncated streams."""

from __future__ import annotations

import asyncio
import logging

import anthropic
import openai
import pytest

from gateway.providers.bedrock.converse_stream import ConverseChatStream
from tests.bedrock_support import *  # noqa: F403 (fixtures)
from tests.bedrock_support import MODEL


async def test_bad_secret_is_the_upstream_403(client, fake_bedrock, bedrock_headers):
    headers = bedrock_headers | {"x-portkey-aws-secret-access-key": "wrong-secret"}
    response = await client.post("/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}, headers=headers)
    assert response.status == 403
    body = await response.json()
    assert body["error"]["code"] == "InvalidSignatureException"
    assert "signature we calculated does not match" in body["error"]["message"]
    assert "wrong-secret" not in await response.text()


async def test_sdk_sees_authentication_failure(bedrock_sdk, fake_bedrock, gateway, bedrock_headers):
    headers = bedrock_headers | {"x-portkey-aws-access-key-id": "AKIAUNKNOWN000000000"}
    async with openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x", default_headers=headers, max_retries=0) as sdk:
        with pytest.raises(openai.PermissionDeniedError) as caught:
            await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "UnrecognizedClientException"


@pytest.mark.parametrize(
    "change, param",
    [
        ({"x-portkey-aws-secret-access-key": None}, "x-portkey-aws-secret-access-key"),
        ({"x-portkey-aws-access-key-id": None}, "x-portkey-aws-access-key-id"),
        ({"x-portkey-aws-access-key-id": None, "x-portkey-aws-secret-access-key": None}, None),
        ({"x-portkey-aws-region": "us-east-1.evil.example/"}, "x-portkey-aws-region"),
    ],
)
async def test_missing_keys_or_bad_region_is_a_clear_400(client, fake_bedrock, bedrock_headers, access_lines, change, param):
    headers = {k: v for k, v in (bedrock_headers | change).items() if v is not None}
    response = await client.post("/v1/chat/completions", json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}, headers=headers)
    assert response.status == 400
    body = await response.json()
    assert body["error"]["param"] == param
    assert "AWS" in body["error"]["message"] or "region" in body["error"]["message"]
    assert fake_bedrock.requests == []
    text = await response.text() + " ".join(repr(vars(r)) for r in access_lines())
    assert bedrock_headers["x-portkey-aws-secret-access-key"] not in text


async def test_unknown_model_is_upstream_400_in_openai_shape(bedrock_sdk, fake_bedrock):
    with pytest.raises(openai.BadRequestError) as caught:
        await bedrock_sdk.chat.completions.create(model="nope.model-v9:0", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.body["code"] == "ValidationException"
    assert caught.value.body["message"] == "bedrock: The provided model identifier is invalid."


async def test_exception_frame_first_keeps_its_status(client, fake_bedrock, bedrock_headers):
    fake_bedrock.exception_at = (0, "throttlingException", "Too many tokens, please wait before trying again.")
    response = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers=bedrock_headers,
    )
    assert response.status == 429
    body = await response.json()
    assert body["error"]["code"] == "throttlingException"
    assert body["error"]["type"] == "rate_limit_error"


async def test_exception_frame_mid_stream_is_an_error_event(client, bedrock_sdk, fake_bedrock, bedrock_headers):
    fake_bedrock.exception_at = (2, "modelStreamErrorException", "The model stopped unexpectedly.")
    fake_bedrock.gate = asyncio.Event()  # the client has its 200 before the exception is sent
    response = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], "stream": True},
        headers=bedrock_headers,
    )
    assert response.status == 200
    fake_bedrock.gate.set()
    text = await response.text()
    assert '"code":"modelStreamErrorException"' in text
    assert "[DONE]" not in text

    fake_bedrock.gate = asyncio.Event()
    stream = await bedrock_sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True)
    fake_bedrock.gate.set()
    with pytest.raises(openai.APIError, match="The model stopped unexpectedly"):
        async for _ in stream:
            pass


@pytest.mark.parametrize("frames", [1, 4, 5])  # after messageStart / before messageStop / before metadata
async def test_truncated_stream_never_ends_with_done(client, fake_bedrock, bedrock_headers, frames):
    fake_bedrock.truncate_after = frames
    response = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], "stream": True},
        headers=bedrock_headers,
    )
    text = await response.text()
    assert response.status == 200
    assert '"code":"upstream_truncated"' in text
    assert "[DONE]" not in text


async def test_anthropic_sdk_sees_mid_stream_exception(bedrock_anthropic, fake_bedrock):
    fake_bedrock.exception_at = (2, "throttlingException", "Slow down")
    fake_bedrock.gate = asyncio.Event()
    with pytest.raises(anthropic.APIStatusError, match="Slow down"):
        async with bedrock_anthropic.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
        ) as stream:
            fake_bedrock.gate.set()  # the 200 is in: the exception comes mid-stream
            async for _ in stream:
                pass


async def test_anthropic_sdk_error_status(bedrock_anthropic, fake_bedrock):
    with pytest.raises(anthropic.BadRequestError, match="model identifier is invalid"):
        await bedrock_anthropic.messages.create(model="nope.v1", max_tokens=5, messages=[{"role": "user", "content": "x"}])


async def test_keys_never_logged(bedrock_sdk, fake_bedrock, bedrock_headers, caplog, access_lines):
    caplog.set_level(logging.DEBUG)
    await bedrock_sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    fake_bedrock.truncate_after = 2  # a failing stream logs its failure too
    stream = await bedrock_sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}], stream=True)
    with pytest.raises(openai.APIError):
        async for _ in stream:
            pass
    assert access_lines()
    logged = " ".join(repr(vars(record)) for record in caplog.records if not record.name.startswith("botocore"))
    assert bedrock_headers["x-portkey-aws-secret-access-key"] not in logged
    assert bedrock_headers["x-portkey-aws-access-key-id"] not in logged


async def test_anthropic_sdk_exception_before_first_byte(bedrock_anthropic, fake_bedrock):
    fake_bedrock.exception_at = (0, "throttlingException", "Too many requests")
    with pytest.raises(anthropic.RateLimitError) as caught:
        async with bedrock_anthropic.messages.stream(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "x"}]) as stream:
            async for _ in stream:
                pass
    assert caught.value.body == {"type": "error", "error": {"type": "rate_limit_error", "message": "bedrock: Too many requests"}}


async def test_unsupported_endpoint_and_bad_model(client, fake_bedrock, bedrock_headers):
    response = await client.post("/v1/images/generations", json={"model": MODEL, "prompt": "x"}, headers=bedrock_headers)
    assert response.status == 404
    assert (await response.json())["error"]["code"] == "unsupported_endpoint"
    response = await client.post("/v1/chat/completions", json={"model": "..", "messages": [{"role": "user", "content": "x"}]}, headers=bedrock_headers)
    assert response.status == 400
    assert fake_bedrock.requests == []


async def test_exception_frame_split_across_reads_keeps_its_status(client, fake_bedrock, bedrock_headers, monkeypatch):
    fake_bedrock.exception_at = (0, "serviceUnavailableException", "Bedrock is unavailable")
    fake_bedrock.chunk_size = 5  # the gateway's first read can hold only part of the frame
    fake_bedrock.gate = asyncio.Event()  # the fake holds the rest until the gateway has fed that part
    feed = ConverseChatStream.feed

    def feed_then_release(self, data):
        fake_bedrock.gate.set()
        return feed(self, data)

    monkeypatch.setattr(ConverseChatStream, "feed", feed_then_release)
    response = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers=bedrock_headers,
    )
    assert response.status == 503
    assert (await response.json())["error"]["code"] == "serviceUnavailableException"


async def test_stream_that_ends_before_any_event_is_a_502(client, fake_bedrock, bedrock_headers):
    fake_bedrock.truncate_after = 0
    fake_bedrock.chunk_size = 3
    response = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "stream": True},
        headers=bedrock_headers,
    )
    assert response.status == 502
    assert (await response.json())["error"]["code"] == "upstream_truncated"
