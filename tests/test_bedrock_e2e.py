"""Bedrock end to end: official SDKs → gateway → fake Bedrock (SigV4 checked by botocore)."""

from __future__ import annotations

import asyncio
import base64

import openai
import orjson

from tests.bedrock_support import *  # noqa: F403 (fixtures)
from tests.bedrock_support import MODEL, REGION
from tests.fakes.bedrock import (
    ACCESS_KEY,
    SECRET_KEY,
    SESSION_ACCESS_KEY,
    SESSION_SECRET,
    SESSION_TOKEN,
    Script,
)

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}
TOOL_SCRIPT = Script(
    [
        {"text": "Let me check."},
        {"toolUse": {"toolUseId": "tooluse_w1", "name": "get_weather", "input": {"city": "Paris"}}},
        {"toolUse": {"toolUseId": "tooluse_w2", "name": "get_weather", "input": {"city": "Oslo"}}},
    ],
    stop_reason="tool_use",
    usage={"inputTokens": 30, "outputTokens": 20, "totalTokens": 60, "cacheReadInputTokens": 8, "cacheWriteInputTokens": 2},
)


async def test_plain_chat(bedrock_sdk, fake_bedrock):
    completion = await bedrock_sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        max_tokens=100,
        temperature=0.2,
    )
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == MODEL
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (12, 5, 17)
    sent = fake_bedrock.last
    # The model id's ':' is percent-encoded in the path, and the signature covered that path.
    assert sent.path == "/model/anthropic.claude-3-5-sonnet-20241022-v2%3A0/converse"
    assert sent.json["system"] == [{"text": "Be brief."}]
    assert sent.json["inferenceConfig"] == {"maxTokens": 100, "temperature": 0.2}


async def test_stream_with_usage(bedrock_sdk, fake_bedrock):
    fake_bedrock.chunk_size = 7  # frames split across network writes
    stream = await bedrock_sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    text, finish, usage, ids = "", None, None, set()
    async for chunk in stream:
        ids.add(chunk.id)
        if chunk.choices:
            text += chunk.choices[0].delta.content or ""
            finish = chunk.choices[0].finish_reason or finish
        if chunk.usage:
            usage = chunk.usage
    assert text == "You said: Hello there"
    assert finish == "stop"
    assert usage.prompt_tokens == 12 and usage.completion_tokens == 5
    assert len(ids) == 1
    assert fake_bedrock.last.path.endswith("/converse-stream")
    assert fake_bedrock.last.headers["Accept"] == "application/vnd.amazon.eventstream"


async def test_stream_chunks_are_relayed_as_they_come(bedrock_sdk, fake_bedrock):
    fake_bedrock.gate = asyncio.Event()
    stream = await bedrock_sdk.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    iterator = stream.__aiter__()
    first = await iterator.__anext__()  # arrives while the fake still holds the rest
    assert first.choices[0].delta.role == "assistant"
    fake_bedrock.gate.set()
    rest = [chunk async for chunk in iterator]
    assert "".join(c.choices[0].delta.content or "" for c in rest) == "You said: Hello there"


async def test_streamed_tool_calls(bedrock_sdk, fake_bedrock):
    fake_bedrock.script = TOOL_SCRIPT
    stream = await bedrock_sdk.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather in Paris and Oslo?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict] = {}
    finish = usage = None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": None, "name": None, "arguments": ""})
                call["id"] = delta.id or call["id"]
                call["name"] = delta.function.name or call["name"]
                call["arguments"] += delta.function.arguments or ""
    assert calls == {
        0: {"id": "tooluse_w1", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        1: {"id": "tooluse_w2", "name": "get_weather", "arguments": '{"city":"Oslo"}'},
    }
    assert finish == "tool_calls"
    assert usage.prompt_tokens == 40 and usage.prompt_tokens_details.cached_tokens == 8
    assert fake_bedrock.last.json["toolConfig"]["toolChoice"] == {"any": {}}


async def test_tool_calls_across_two_turns(bedrock_sdk, fake_bedrock):
    fake_bedrock.script = TOOL_SCRIPT
    question = [{"role": "user", "content": "Weather in Paris and Oslo?"}]
    first = await bedrock_sdk.chat.completions.create(model=MODEL, messages=question, tools=[WEATHER_TOOL])
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert [c.function.arguments for c in message.tool_calls] == ['{"city":"Paris"}', '{"city":"Oslo"}']
    fake_bedrock.script = Script([{"text": "Sunny in Paris, snow in Oslo."}])
    second = await bedrock_sdk.chat.completions.create(
        model=MODEL,
        tools=[WEATHER_TOOL],
        messages=[
            *question,
            message.model_dump(exclude_none=True),
            {"role": "tool", "tool_call_id": "tooluse_w1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "tooluse_w2", "content": "snow"},
        ],
    )
    assert second.choices[0].message.content == "Sunny in Paris, snow in Oslo."
    turns = fake_bedrock.last.json["messages"]
    # The fake enforces alternating roles: both tool results share one user turn.
    assert [t["role"] for t in turns] == ["user", "assistant", "user"]
    assert turns[1]["content"][1] == {"toolUse": {"toolUseId": "tooluse_w1", "name": "get_weather", "input": {"city": "Paris"}}}
    assert turns[2]["content"] == [
        {"toolResult": {"toolUseId": "tooluse_w1", "content": [{"text": "sunny"}]}},
        {"toolResult": {"toolUseId": "tooluse_w2", "content": [{"text": "snow"}]}},
    ]


async def test_image_as_data_url(bedrock_sdk, fake_bedrock):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake").decode()
    await bedrock_sdk.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png}"}},
                ],
            }
        ],
    )
    assert fake_bedrock.last.json["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": png}}}


async def test_arn_model_and_session_token(gateway, fake_bedrock, bedrock_headers):
    arn = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-7-sonnet-20250219-v1:0"
    headers = bedrock_headers | {
        "x-portkey-aws-access-key-id": SESSION_ACCESS_KEY,
        "x-portkey-aws-secret-access-key": SESSION_SECRET,
        "x-portkey-aws-session-token": SESSION_TOKEN,
    }
    async with openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x", default_headers=headers, max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(model=arn, messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "You said: hi"
    assert fake_bedrock.last.model == arn
    assert fake_bedrock.last.path == "/model/" + arn.replace(":", "%3A").replace("/", "%2F") + "/converse"


async def test_credentials_from_the_aws_chain(monkeypatch, gateway, fake_bedrock):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", SESSION_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SESSION_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    monkeypatch.setenv("AWS_REGION", REGION)
    headers = {"x-portkey-provider": "bedrock", "x-portkey-custom-host": fake_bedrock.url}
    async with openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x", default_headers=headers, max_retries=0) as sdk:
        for _ in range(2):  # the chain is resolved once and reused
            completion = await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
            assert completion.choices[0].message.content == "You said: hi"
    assert fake_bedrock.last.headers["X-Amz-Security-Token"] == SESSION_TOKEN


async def test_anthropic_sdk_messages(bedrock_anthropic, fake_bedrock):
    message = await bedrock_anthropic.messages.create(
        model=MODEL, max_tokens=64, system="Be brief.", messages=[{"role": "user", "content": "Hello there"}]
    )
    assert message.content[0].text == "You said: Hello there"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 5)
    assert fake_bedrock.last.path.endswith("/converse")
    assert fake_bedrock.last.json["inferenceConfig"] == {"maxTokens": 64}


async def test_anthropic_sdk_messages_stream_with_tools(bedrock_anthropic, fake_bedrock):
    fake_bedrock.script = TOOL_SCRIPT
    async with bedrock_anthropic.messages.stream(
        model=MODEL,
        max_tokens=64,
        messages=[{"role": "user", "content": "Weather?"}],
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
    ) as stream:
        events = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[0].text == "Let me check."
    assert final.content[2].input == {"city": "Oslo"}
    assert final.stop_reason == "tool_use"
    assert final.usage.output_tokens == 20 and final.usage.cache_read_input_tokens == 8


async def test_embeddings_titan_and_cohere(bedrock_sdk, fake_bedrock):
    titan = await bedrock_sdk.embeddings.create(model="amazon.titan-embed-text-v2:0", input="hello world")
    assert titan.data[0].embedding == [11.0, 0.5, -1.25]  # decoded by the SDK from base64
    assert titan.usage.prompt_tokens == 2
    assert fake_bedrock.last.json == {"inputText": "hello world"}
    assert fake_bedrock.last.path == "/model/amazon.titan-embed-text-v2%3A0/invoke"
    cohere = await bedrock_sdk.embeddings.create(model="cohere.embed-english-v3", input=["a", "bcd"], encoding_format="float")
    assert [d.embedding for d in cohere.data] == [[1.0, 0.5, -1.25], [3.0, 0.5, -1.25]]
    assert fake_bedrock.last.json == {"texts": ["a", "bcd"], "input_type": "search_document"}


async def test_credentials_and_region_from_the_config(gateway, fake_bedrock):
    fake_bedrock.region = "eu-west-1"
    config = {
        "provider": "bedrock",
        "awsAccessKeyId": ACCESS_KEY,  # camelCase, as Portkey's own clients send it
        "aws_secret_access_key": SECRET_KEY,
        "awsRegion": "eu-west-1",
        "custom_host": fake_bedrock.url,
    }
    headers = {"x-portkey-config": orjson.dumps(config).decode()}
    async with openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="x", default_headers=headers, max_retries=0) as sdk:
        completion = await sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert completion.choices[0].message.content == "You said: hi"
    assert "/eu-west-1/bedrock/aws4_request" in fake_bedrock.last.headers["Authorization"]
