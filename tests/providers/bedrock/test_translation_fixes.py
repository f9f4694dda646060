"""End to end through the official SDKs: tool_choice none, response_format and the
matched stop sequence on Bedrock; data URLs and tool-call arguments read as for Anthropic."""

from __future__ import annotations

import openai
import orjson
import pytest

from tests.fakes.bedrock import Script
from tests.providers.bedrock.samples import MODEL, PNG

WEATHER_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
}
CITY = {"type": "object", "properties": {"city": {"type": "string"}, "temp": {"type": "number"}}, "required": ["city"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY}}
HISTORY = [
    {"role": "user", "content": "Weather in Paris?"},
    {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}],
    },
    {"role": "tool", "tool_call_id": "tooluse_1", "content": "18C"},
]


async def test_tool_choice_none_with_tool_history_lets_no_tool_be_called(bedrock_sdk, fake_bedrock):
    completion = await bedrock_sdk.chat.completions.create(
        model=MODEL, messages=HISTORY, tools=[WEATHER_TOOL], tool_choice="none"
    )
    assert completion.choices[0].message.tool_calls is None
    sent = fake_bedrock.last.json
    # With any toolConfig Converse lets the model call a tool (its choices are auto, any,
    # tool); without one, the earlier call and its result reach the model as text.
    assert "toolConfig" not in sent
    assert sent["messages"] == [
        {"role": "user", "content": [{"text": "Weather in Paris?"}]},
        {"role": "assistant", "content": [{"text": '[tool call tooluse_1: get_weather({"city":"Paris"})]'}]},
        {"role": "user", "content": [{"text": "[tool result tooluse_1]"}, {"text": "18C"}]},
    ]


async def test_messages_tool_choice_none_with_tool_history(bedrock_anthropic, fake_bedrock):
    message = await bedrock_anthropic.messages.create(
        model=MODEL,
        max_tokens=64,
        tools=[{"name": "get_weather", "input_schema": {"type": "object"}}],
        tool_choice={"type": "none"},
        messages=[
            {"role": "user", "content": "Weather?"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "get_weather", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "sunny", "is_error": True}]},
        ],
    )
    assert message.stop_reason == "end_turn"
    sent = fake_bedrock.last.json
    assert "toolConfig" not in sent
    assert sent["messages"][2]["content"] == [{"text": "[tool result t1 (error)]"}, {"text": "sunny"}]


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_is_answered_through_a_forced_tool(bedrock_sdk, fake_bedrock, stream):
    fake_bedrock.script = Script(
        [{"toolUse": {"toolUseId": "tooluse_j", "name": "json_response", "input": {"city": "Paris", "temp": 21}}}],
        stop_reason="tool_use",
    )
    content, finish, calls = await _ask(bedrock_sdk, stream, response_format=JSON_SCHEMA)
    assert orjson.loads(content) == {"city": "Paris", "temp": 21}
    assert (finish, calls) == ("stop", [])
    config = fake_bedrock.last.json["toolConfig"]
    assert config["toolChoice"] == {"tool": {"name": "json_response"}}
    assert config["tools"][-1]["toolSpec"]["inputSchema"] == {"json": CITY}


@pytest.mark.parametrize("stream", [False, True])
async def test_json_object_is_a_forced_tool_taking_any_object(bedrock_sdk, fake_bedrock, stream):
    fake_bedrock.script = Script(
        [{"toolUse": {"toolUseId": "tooluse_j", "name": "json_response", "input": {"ok": True}}}], stop_reason="tool_use"
    )
    content, finish, _ = await _ask(bedrock_sdk, stream, response_format={"type": "json_object"})
    assert (orjson.loads(content), finish) == ({"ok": True}, "stop")
    tool = fake_bedrock.last.json["toolConfig"]["tools"][0]["toolSpec"]
    assert tool["inputSchema"] == {"json": {"type": "object", "additionalProperties": True}}


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_with_client_tools_lets_the_model_call_them(bedrock_sdk, fake_bedrock, stream):
    fake_bedrock.script = Script(
        [{"toolUse": {"toolUseId": "tooluse_w", "name": "get_weather", "input": {"city": "Paris"}}}], stop_reason="tool_use"
    )
    content, finish, calls = await _ask(bedrock_sdk, stream, response_format=JSON_SCHEMA, tools=[WEATHER_TOOL])
    assert (content, finish, calls) == ("", "tool_calls", [("get_weather", '{"city":"Paris"}')])
    config = fake_bedrock.last.json["toolConfig"]
    assert config["toolChoice"] == {"any": {}}
    assert [tool["toolSpec"]["name"] for tool in config["tools"]] == ["get_weather", "json_response"]


async def test_response_format_with_thinking_is_a_400_before_calling(bedrock_sdk, fake_bedrock):
    with pytest.raises(openai.BadRequestError) as caught:
        await _ask(bedrock_sdk, False, response_format=JSON_SCHEMA, extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert caught.value.body["param"] == "response_format"
    assert fake_bedrock.requests == []


async def test_unknown_response_format_is_a_400(bedrock_sdk, fake_bedrock):
    with pytest.raises(openai.BadRequestError) as caught:
        await _ask(bedrock_sdk, False, response_format={"type": "yaml"})
    assert caught.value.body["param"] == "response_format"
    assert fake_bedrock.requests == []


async def test_messages_name_the_matched_stop_sequence(bedrock_anthropic, fake_bedrock):
    fake_bedrock.script = Script([{"text": "1, 2, "}], stop_reason="stop_sequence", stop_sequence="3")
    params = {"model": MODEL, "max_tokens": 64, "stop_sequences": ["3", "END"], "messages": [{"role": "user", "content": "Count"}]}
    message = await bedrock_anthropic.messages.create(**params)
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "3")
    assert fake_bedrock.last.json["additionalModelResponseFieldPaths"] == ["/stop_sequence"]
    async with bedrock_anthropic.messages.stream(**params) as stream:
        deltas = [event.delta for event in [e async for e in stream] if event.type == "message_delta"]
    assert [(d.stop_reason, d.stop_sequence) for d in deltas] == [("stop_sequence", "3")]


async def test_messages_without_stop_sequences_ask_for_nothing_more(bedrock_anthropic, fake_bedrock):
    message = await bedrock_anthropic.messages.create(model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hi"}])
    assert message.stop_sequence is None
    assert "additionalModelResponseFieldPaths" not in fake_bedrock.last.json


async def test_data_url_with_parameters_is_accepted(bedrock_sdk, fake_bedrock):
    url = f"data:image/png;name=photo.png;base64,{PNG}"
    content = [{"type": "text", "text": "What is it?"}, {"type": "image_url", "image_url": {"url": url}}]
    await bedrock_sdk.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    assert fake_bedrock.last.json["messages"][0]["content"][1] == {"image": {"format": "png", "source": {"bytes": PNG}}}


@pytest.mark.parametrize("arguments", ["[1,2]", '"Paris"', "{oops"])
async def test_tool_call_arguments_must_be_a_json_object(bedrock_sdk, fake_bedrock, arguments):
    history = [HISTORY[0], {**HISTORY[1], "tool_calls": [{**HISTORY[1]["tool_calls"][0], "function": {"name": "get_weather", "arguments": arguments}}]}, HISTORY[2]]
    with pytest.raises(openai.BadRequestError) as caught:
        await bedrock_sdk.chat.completions.create(model=MODEL, messages=history, tools=[WEATHER_TOOL])
    assert caught.value.body["param"] == "messages[1].tool_calls[0].function.arguments"
    assert fake_bedrock.requests == []


async def _ask(client: openai.AsyncOpenAI, stream: bool, **params) -> tuple[str, str, list[tuple[str, str]]]:
    """One call; (content, finish_reason, [(tool name, arguments)]) whole or streamed."""
    messages = [{"role": "user", "content": "Where?"}]
    if not stream:
        choice = (await client.chat.completions.create(model=MODEL, messages=messages, **params)).choices[0]
        calls = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls or ()]
        return choice.message.content or "", choice.finish_reason, calls
    content, finish, calls = "", None, {}
    async for chunk in await client.chat.completions.create(model=MODEL, messages=messages, stream=True, **params):
        choice = chunk.choices[0]
        content += choice.delta.content or ""
        finish = choice.finish_reason or finish
        for piece in choice.delta.tool_calls or ():
            name, arguments = calls.get(piece.index, ("", ""))
            calls[piece.index] = (name + (piece.function.name or ""), arguments + (piece.function.arguments or ""))
    return content, finish, [calls[index] for index in sorted(calls)]
