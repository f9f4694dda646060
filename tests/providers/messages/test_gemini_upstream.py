"""End to end: the official Anthropic SDK → gateway /v1/messages → the (fake) Gemini
API, translated both ways: request, whole answer, stream, tools, errors."""

from __future__ import annotations

import anthropic
import pytest

from tests.fakes.google import function_call, text

from .conftest import GEMINI_KEY

MODEL = "gemini-2.5-flash"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
}


async def test_whole_answer_and_request(claude_to_gemini, fake_gemini):
    fake_gemini.usage = {"thoughtsTokenCount": 3}
    message = await claude_to_gemini.messages.create(
        model=MODEL,
        max_tokens=64,
        system="Be brief.",
        stop_sequences=["END"],
        thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[{"role": "user", "content": [{"type": "text", "text": "Hello there"}]}],
    )
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "You said: Hello there"
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens > 3  # thinking counts as output
    upstream = fake_gemini.last
    assert upstream.path == f"/v1beta/models/{MODEL}:generateContent"
    assert upstream.headers["x-goog-api-key"] == GEMINI_KEY
    body = upstream.json
    assert body["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "Hello there"}]}]
    config = body["generationConfig"]
    assert config["maxOutputTokens"] == 64 and config["stopSequences"] == ["END"]
    assert config["thinkingConfig"]["thinkingBudget"] == 1024


async def test_stream_with_thinking_text_and_order(claude_to_gemini, fake_gemini):
    fake_gemini.reply = [[text("Let me think.", thought=True), text("Paris is sunny today")]]
    async with claude_to_gemini.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Weather?"}]
    ) as stream:
        kinds = [event.type async for event in stream]
        final = await stream.get_final_message()
    assert fake_gemini.last.path.endswith(":streamGenerateContent") and fake_gemini.last.query == "alt=sse"
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert [block.type for block in final.content] == ["thinking", "text"]
    assert final.content[0].thinking == "Let me think."
    assert final.content[1].text == "Paris is sunny today"
    assert final.stop_reason == "end_turn"


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_use_round_trip(claude_to_gemini, fake_gemini, stream):
    fake_gemini.reply = [[text("Checking."), function_call("get_weather", {"city": "Paris"})]]
    params = {"model": MODEL, "max_tokens": 100, "tools": [WEATHER_TOOL], "tool_choice": {"type": "tool", "name": "get_weather"}}
    question = {"role": "user", "content": "Weather in Paris?"}
    if stream:
        async with claude_to_gemini.messages.stream(messages=[question], **params) as events:
            message = await events.get_final_message()
    else:
        message = await claude_to_gemini.messages.create(messages=[question], **params)
    assert [block.type for block in message.content] == ["text", "tool_use"]
    call = message.content[1]
    assert call.name == "get_weather" and call.input == {"city": "Paris"} and call.id.startswith("call_")
    assert message.stop_reason == "tool_use"
    sent = fake_gemini.last.json
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["get_weather"]}}
    assert "additionalProperties" not in sent["tools"][0]["functionDeclarations"][0]["parameters"]

    fake_gemini.reply = None
    await claude_to_gemini.messages.create(
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "18 C"}]},
        ],
        **params,
    )
    contents = fake_gemini.last.json["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [{"text": "Checking."}, {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
    }
    assert contents[2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "get_weather", "response": {"result": "18 C"}}}],
    }


async def test_max_tokens_finish(claude_to_gemini, fake_gemini):
    fake_gemini.finish_reason = "MAX_TOKENS"
    message = await claude_to_gemini.messages.create(model=MODEL, max_tokens=2, messages=[{"role": "user", "content": "Go"}])
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize(
    ("status", "google_status", "exception"),
    [
        (429, "RESOURCE_EXHAUSTED", anthropic.RateLimitError),
        (400, "INVALID_ARGUMENT", anthropic.BadRequestError),
        (503, "UNAVAILABLE", anthropic.InternalServerError),
    ],
)
async def test_upstream_errors_in_anthropics_shape(claude_to_gemini, fake_gemini, status, google_status, exception):
    fake_gemini.error = (status, google_status, "gemini says no")
    with pytest.raises(exception) as raised:
        await claude_to_gemini.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.status_code == status
    assert raised.value.body == {
        "type": "error",
        "error": {"type": raised.value.body["error"]["type"], "message": "gemini says no"},
    }


async def test_error_event_mid_stream(claude_to_gemini, fake_gemini):
    fake_gemini.error_event_after = 2
    events = []
    with pytest.raises(anthropic.APIStatusError):
        async with claude_to_gemini.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello there my friend"}]
        ) as stream:
            async for event in stream:
                events.append(event.type)
    assert "message_stop" not in events and "content_block_delta" in events


async def test_structured_output_becomes_gemini_json_mode(claude_to_gemini, fake_gemini):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": False}
    await claude_to_gemini.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[{"role": "user", "content": "Answer in JSON"}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    config = fake_gemini.last.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"]["properties"] == {"answer": {"type": "STRING"}}
