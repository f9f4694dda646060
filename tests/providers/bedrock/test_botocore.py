"""Cross-checks with AWS's own SDK (botocore's service model and client).

* The fake Bedrock accepts requests signed by the official client, and the official
  client parses the fake's event stream: the fake speaks the real wire format.
* The official client encodes a model id in the path exactly as the gateway does.
* What the gateway's translators produce validates against the Converse input shape.
"""

from __future__ import annotations

import base64

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import EventStreamError
from botocore.validate import ParamValidator

from gateway.providers.bedrock.converse_request import chat_to_converse
from gateway.providers.bedrock.messages import messages_to_converse
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY, Script
from tests.providers.bedrock.samples import REGION

MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n").decode()


@pytest.fixture
async def aws_client(fake_bedrock):
    session = get_session()
    async with session.create_client(
        "bedrock-runtime",
        region_name=REGION,
        endpoint_url=fake_bedrock.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    ) as client:
        yield client


async def test_official_client_is_accepted_and_encodes_paths_like_the_gateway(aws_client, fake_bedrock, bedrock_sdk):
    answer = await aws_client.converse(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert answer["output"]["message"]["content"] == [{"text": "You said: hi"}]
    sdk_path = fake_bedrock.last.path
    await bedrock_sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "hi"}])
    assert fake_bedrock.last.path == sdk_path


async def test_official_client_parses_the_fake_stream(aws_client, fake_bedrock):
    fake_bedrock.script = Script(
        [{"text": "Hi there"}, {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}], stop_reason="tool_use"
    )
    tools = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}
    answer = await aws_client.converse_stream(
        modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}], toolConfig=tools
    )
    events = [event async for event in answer["stream"]]
    assert [next(iter(event)) for event in events] == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[-1]["metadata"]["usage"]["outputTokens"] == 5


async def test_official_client_sees_the_fakes_exception_frames(aws_client, fake_bedrock):
    fake_bedrock.exception_at = (1, "throttlingException", "slow down")
    answer = await aws_client.converse_stream(modelId=MODEL, messages=[{"role": "user", "content": [{"text": "x"}]}])
    with pytest.raises(EventStreamError) as caught:
        async for _ in answer["stream"]:
            pass
    assert caught.value.response["Error"] == {"Code": "throttlingException", "Message": "slow down"}


def _validate(operation: str, params: dict) -> str:
    from botocore.session import get_session as sync_session

    model = sync_session().get_service_model("bedrock-runtime").operation_model(operation)
    return ParamValidator().validate(params, model.input_shape).generate_report()


def test_translated_chat_request_matches_the_service_model():
    body = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": [{"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}}, {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}]},
            {"role": "assistant", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "done"},
        ],
        "max_tokens": 10,
        "temperature": 0.1,
        "top_p": 0.5,
        "stop": ["x"],
        "top_k": 3,
        "tools": [{"type": "function", "function": {"name": "f", "description": "d", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
    }
    assert _validate("Converse", {"modelId": MODEL, **chat_to_converse(body)}) == ""


def test_translated_messages_request_matches_the_service_model():
    body = {
        "max_tokens": 10,
        "system": [{"type": "text", "text": "s", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "d"}, "title": "t.txt"},
                ],
            },
            {"role": "assistant", "content": [{"type": "thinking", "thinking": "t", "signature": "g"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": [{"type": "text", "text": "r"}], "is_error": True}]},
        ],
        "tools": [{"name": "f", "input_schema": {"type": "object"}, "cache_control": {"type": "ephemeral", "ttl": "5m"}}],
        "tool_choice": {"type": "auto"},
    }
    assert _validate("ConverseStream", {"modelId": MODEL, **messages_to_converse(body)}) == ""
