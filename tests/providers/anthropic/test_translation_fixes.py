"""End to end through the OpenAI SDK: requests Anthropic would refuse are never sent
(empty turns), and response_format is honoured through a forced answer tool."""

from __future__ import annotations

import openai
import orjson
import pytest

from tests.fakes.anthropic import text, tool_use

from .samples import PNG_B64, WEATHER_TOOL

MODEL = "claude-test-1"
CITY = {"type": "object", "properties": {"city": {"type": "string"}, "temp": {"type": "number"}}, "required": ["city"]}
JSON_SCHEMA = {"type": "json_schema", "json_schema": {"name": "city", "schema": CITY, "description": "A city."}}


async def test_assistant_message_with_empty_content_is_left_out(claude_via_openai, fake_anthropic):
    messages = [
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "Still there?"},
    ]
    completion = await claude_via_openai.chat.completions.create(model=MODEL, messages=messages)
    assert completion.choices[0].message.content == "You said: Hi Still there?"
    # The empty turn is dropped and the two user turns merged, as the Bedrock path does.
    assert fake_anthropic.last.json["messages"] == [{"role": "user", "content": [text("Hi"), text("Still there?")]}]


async def test_empty_assistant_content_with_tool_calls_keeps_the_calls(claude_via_openai, fake_anthropic):
    messages = [
        {"role": "user", "content": "Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}}],
        },
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
    ]
    await claude_via_openai.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    sent = fake_anthropic.last.json["messages"]
    assert sent[1] == {"role": "assistant", "content": [tool_use("toolu_1", "get_weather", {"city": "Paris"})]}


async def test_user_message_of_empty_text_is_left_out(claude_via_openai, fake_anthropic):
    messages = [{"role": "user", "content": [{"type": "text", "text": ""}, {"type": "text", "text": "Hi"}]}]
    await claude_via_openai.chat.completions.create(model=MODEL, messages=messages)
    assert fake_anthropic.last.json["messages"] == [{"role": "user", "content": "Hi"}]


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_is_answered_through_a_forced_tool(claude_via_openai, fake_anthropic, stream):
    fake_anthropic.reply = [tool_use("toolu_1", "json_response", {"city": "Paris", "temp": 21})]
    content, finish, tool_calls = await _ask(claude_via_openai, stream, response_format=JSON_SCHEMA)
    assert orjson.loads(content) == {"city": "Paris", "temp": 21}
    assert (finish, tool_calls) == ("stop", [])
    sent = fake_anthropic.last.json
    assert sent["tool_choice"] == {"type": "tool", "name": "json_response", "disable_parallel_tool_use": True}
    assert sent["tools"][-1]["name"] == "json_response"
    assert sent["tools"][-1]["input_schema"] == CITY
    assert sent["tools"][-1]["description"].endswith("A city.")


@pytest.mark.parametrize("stream", [False, True])
async def test_json_object_is_a_forced_tool_taking_any_object(claude_via_openai, fake_anthropic, stream):
    fake_anthropic.reply = [tool_use("toolu_1", "json_response", {"answer": [1, 2]})]
    content, finish, _ = await _ask(claude_via_openai, stream, response_format={"type": "json_object"})
    assert orjson.loads(content) == {"answer": [1, 2]} and finish == "stop"
    assert fake_anthropic.last.json["tools"] == [
        {"name": "json_response", "description": fake_anthropic.last.json["tools"][0]["description"],
         "input_schema": {"type": "object", "additionalProperties": True}}
    ]


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_with_client_tools_lets_the_model_call_them(claude_via_openai, fake_anthropic, stream):
    fake_anthropic.reply = [tool_use("toolu_1", "get_weather", {"city": "Paris"})]
    content, finish, tool_calls = await _ask(claude_via_openai, stream, response_format=JSON_SCHEMA, tools=[WEATHER_TOOL])
    assert (content, finish, tool_calls) == ("", "tool_calls", [("get_weather", '{"city":"Paris"}')])
    sent = fake_anthropic.last.json
    assert sent["tool_choice"] == {"type": "any"}  # a client tool, or the final answer in the format
    assert [tool["name"] for tool in sent["tools"]] == ["get_weather", "json_response"]



@pytest.mark.parametrize("stream", [False, True])
async def test_a_client_tool_called_beside_the_answer_tool_finishes_as_tool_calls(claude_via_openai, fake_anthropic, stream):
    # The client must run its tool: the answer tool being called too does not make it "stop".
    fake_anthropic.reply = [tool_use("toolu_1", "get_weather", {"city": "Paris"}), tool_use("toolu_2", "json_response", {"city": "Paris"})]
    _, finish, tool_calls = await _ask(claude_via_openai, stream, response_format=JSON_SCHEMA, tools=[WEATHER_TOOL])
    assert finish == "tool_calls" and tool_calls[0] == ("get_weather", '{"city":"Paris"}')


async def test_json_schema_with_tool_choice_none_forces_the_answer_tool(claude_via_openai, fake_anthropic):
    # "none": the client's tools must not be called, so the answer tool is the one call.
    fake_anthropic.reply = [tool_use("toolu_1", "json_response", {"city": "Paris"})]
    await _ask(claude_via_openai, False, response_format=JSON_SCHEMA, tools=[WEATHER_TOOL], tool_choice="none")
    assert fake_anthropic.last.json["tool_choice"] == {"type": "tool", "name": "json_response", "disable_parallel_tool_use": True}

async def test_response_format_with_thinking_is_a_400_before_calling(claude_via_openai, fake_anthropic):
    with pytest.raises(openai.BadRequestError) as caught:
        await _ask(
            claude_via_openai, False, response_format=JSON_SCHEMA, extra_body={"thinking": {"type": "enabled", "budget_tokens": 1024}}
        )
    assert caught.value.body["param"] == "response_format"
    assert fake_anthropic.requests == []


@pytest.mark.parametrize(
    "response_format, param",
    [
        ({"type": "yaml"}, "response_format"),
        ({"type": "json_schema"}, "response_format.json_schema"),
        ({"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "array"}}}, "response_format.json_schema.schema"),
    ],
)
async def test_response_format_that_cannot_be_honoured_is_a_400(claude_via_openai, fake_anthropic, response_format, param):
    with pytest.raises(openai.BadRequestError) as caught:
        await _ask(claude_via_openai, False, response_format=response_format)
    assert caught.value.body["param"] == param
    assert fake_anthropic.requests == []


async def test_response_format_text_changes_nothing(claude_via_openai, fake_anthropic):
    content, finish, _ = await _ask(claude_via_openai, False, response_format={"type": "text"})
    assert (content, finish) == ("You said: Where?", "stop")
    assert "tools" not in fake_anthropic.last.json


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


async def test_data_url_with_parameters_is_accepted(claude_via_openai, fake_anthropic):
    url = f"data:image/png;name=photo.png;base64,{PNG_B64}"
    content = [{"type": "text", "text": "What is it?"}, {"type": "image_url", "image_url": {"url": url}}]
    await claude_via_openai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": content}])
    image = fake_anthropic.last.json["messages"][0]["content"][1]
    assert image == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}}


@pytest.mark.parametrize("arguments", ["[1,2]", '"Paris"', "{oops"])
async def test_tool_call_arguments_must_be_a_json_object(claude_via_openai, fake_anthropic, arguments):
    call = {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": arguments}}
    messages = [
        {"role": "user", "content": "Paris?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
    ]
    with pytest.raises(openai.BadRequestError) as caught:
        await claude_via_openai.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert caught.value.body["param"] == "messages[1].tool_calls[0].function.arguments"
    assert fake_anthropic.requests == []
