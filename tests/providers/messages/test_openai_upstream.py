"""End to end: the official Anthropic SDK → gateway /v1/messages → an OpenAI-compatible
(fake) upstream, translated both ways: request, whole answer, stream, tools, errors."""

from __future__ import annotations

import anthropic
import orjson
import pytest

from tests.conftest import TEST_KEY

from .conftest import anthropic_sdk

MODEL = "gpt-4o-mini"
WEATHER_TOOL = {
    "name": "get_weather",
    "description": "The weather in a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


async def test_whole_answer(claude_to_openai, fake_openai):
    raw = await claude_to_openai.messages.with_raw_response.create(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello there"}]
    )
    message = await raw.parse()
    assert raw.headers["x-portkey-provider"] == "openai"
    assert message.type == "message" and message.role == "assistant"
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "You said: Hello there"
    assert message.stop_reason == "end_turn" and message.stop_sequence is None
    assert message.usage.input_tokens == 2 and message.usage.output_tokens == 4
    upstream = fake_openai.last
    assert upstream.path == "/v1/chat/completions"
    assert upstream.headers["Authorization"] == f"Bearer {TEST_KEY}"
    assert orjson.loads(upstream.body) == {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Hello there"}],
        "max_completion_tokens": 64,  # OpenAI's reasoning models refuse max_tokens
    }


async def test_request_fields_map_to_openai(claude_to_openai, fake_openai):
    await claude_to_openai.messages.create(
        model=MODEL,
        max_tokens=100,
        system=[{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Answer in French."}],
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?", "cache_control": {"type": "ephemeral"}},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
                ],
            }
        ],
        tools=[WEATHER_TOOL],
        tool_choice={"type": "any", "disable_parallel_tool_use": True},
        stop_sequences=["END"],
        metadata={"user_id": "user-42"},
        extra_body={"temperature": 0.5, "top_p": 0.9, "top_k": 40},  # older API fields this SDK no longer names
    )
    body = orjson.loads(fake_openai.last.body)
    assert body == {
        "model": MODEL,
        "messages": [
            {"role": "system", "content": "Be brief.\nAnswer in French."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                ],
            },
        ],
        "max_completion_tokens": 100,
        "temperature": 0.5,
        "top_p": 0.9,  # top_k has no OpenAI field: not sent (OpenAI refuses unknown ones)
        "stop": ["END"],
        "tools": [
            {
                "type": "function",
                "function": {
                    "name": "get_weather",
                    "description": "The weather in a city",
                    "parameters": WEATHER_TOOL["input_schema"],
                },
            }
        ],
        "parallel_tool_calls": False,
        "tool_choice": "required",
        "user": "user-42",
    }


async def test_stream_event_order_and_text(claude_to_openai, fake_openai):
    async with claude_to_openai.messages.stream(
        model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello streaming world"}]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == "You said: Hello streaming world"
    assert final.content[0].text == text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 5
    body = orjson.loads(fake_openai.last.body)
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


async def test_stream_raw_events_are_in_anthropics_order(client, fake_openai):
    response = await client.post(
        "/v1/messages",
        json={"model": MODEL, "max_tokens": 64, "stream": True, "messages": [{"role": "user", "content": "Hi you"}]},
        headers={"x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url, "x-api-key": TEST_KEY},
    )
    assert response.status == 200 and response.content_type == "text/event-stream"
    events = sse_events(await response.read())
    names = [name for name, _ in events]
    assert names == (
        ["message_start", "content_block_start"] + ["content_block_delta"] * 4
        + ["content_block_stop", "message_delta", "message_stop"]
    )
    for name, data in events:
        assert data["type"] == name  # each data repeats its event's name
    assert events[0][1]["message"]["id"] == "chatcmpl-fake123" and events[0][1]["message"]["content"] == []
    assert events[1][1] == {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
    assert events[-2][1]["delta"] == {"stop_reason": "end_turn", "stop_sequence": None}
    assert events[-2][1]["usage"]["output_tokens"] == 4


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_use_round_trip(claude_to_openai, fake_openai, stream):
    fake_openai.tool_calls = [("call_abc", "get_weather", {"city": "Paris"}), ("call_def", "get_weather", {"city": "Oslo"})]
    fake_openai.reasoning = "The user wants two cities."
    params = {"model": MODEL, "max_tokens": 200, "tools": [WEATHER_TOOL]}
    question = {"role": "user", "content": "Weather in Paris and Oslo?"}
    if stream:
        async with claude_to_openai.messages.stream(messages=[question], **params) as events:
            kinds = [(event.type, getattr(event, "content_block", None)) async for event in events]
            message = await events.get_final_message()
        starts = [block.type for kind, block in kinds if kind == "content_block_start"]
        assert starts == ["thinking", "tool_use", "tool_use"]
    else:
        message = await claude_to_openai.messages.create(messages=[question], **params)
    assert [block.type for block in message.content] == ["thinking", "tool_use", "tool_use"]
    assert message.content[0].thinking == "The user wants two cities."
    assert [(block.id, block.name, block.input) for block in message.content[1:]] == [
        ("call_abc", "get_weather", {"city": "Paris"}),
        ("call_def", "get_weather", {"city": "Oslo"}),
    ]
    assert message.stop_reason == "tool_use"

    # The client answers the calls; OpenAI (strict) takes the tool messages only
    # right after the assistant turn that made the calls.
    fake_openai.tool_calls = fake_openai.reasoning = None
    answer = await claude_to_openai.messages.create(
        messages=[
            question,
            {"role": "assistant", "content": [block.model_dump(exclude_none=True) for block in message.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": "call_abc", "content": "18 C"},
                    {"type": "tool_result", "tool_use_id": "call_def", "content": [{"type": "text", "text": "4 C"}]},
                    {"type": "text", "text": "Thanks"},
                ],
            },
        ],
        **params,
    )
    assert answer.content[0].text == "You said: Thanks"
    sent = orjson.loads(fake_openai.last.body)["messages"]
    assert sent[1] == {
        "role": "assistant",
        "content": None,  # thinking is Anthropic's own: not sent back
        "tool_calls": [
            {"id": "call_abc", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'}},
            {"id": "call_def", "type": "function", "function": {"name": "get_weather", "arguments": '{"city":"Oslo"}'}},
        ],
    }
    assert sent[2:] == [
        {"role": "tool", "tool_call_id": "call_abc", "content": "18 C"},
        {"role": "tool", "tool_call_id": "call_def", "content": "4 C"},
        {"role": "user", "content": "Thanks"},
    ]


async def test_length_finish_is_max_tokens(claude_to_openai, fake_openai):
    fake_openai.finish_reason = "length"
    message = await claude_to_openai.messages.create(model=MODEL, max_tokens=3, messages=[{"role": "user", "content": "Go on"}])
    assert message.stop_reason == "max_tokens"


@pytest.mark.parametrize("stream", [False, True])
async def test_matched_stop_sequence_where_the_server_names_it(gateway, fake_openai, stream):
    # vLLM names the stop string that ended the answer; the gateway reports it as Anthropic does.
    fake_openai.stop_reason = "END"
    client = anthropic_sdk(gateway, TEST_KEY, {"x-portkey-provider": "vllm", "x-portkey-custom-host": fake_openai.url})
    params = {"model": "llama", "max_tokens": 20, "stop_sequences": ["END"], "messages": [{"role": "user", "content": "Count"}]}
    if stream:
        async with client.messages.stream(**params) as events:
            message = await events.get_final_message()
    else:
        message = await client.messages.create(**params)
    await client.close()
    assert (message.stop_reason, message.stop_sequence) == ("stop_sequence", "END")
    body = orjson.loads(fake_openai.last.body)
    assert body["max_tokens"] == 20 and body["stop"] == ["END"]


async def test_a_stop_string_the_client_did_not_send_is_a_plain_end_turn(gateway, fake_openai):
    # vLLM's stop_reason may name its own stop (an EOS string): not one of the client's sequences.
    fake_openai.stop_reason = "</s>"
    client = anthropic_sdk(gateway, TEST_KEY, {"x-portkey-provider": "vllm", "x-portkey-custom-host": fake_openai.url})
    message = await client.messages.create(
        model="llama", max_tokens=20, stop_sequences=["END"], messages=[{"role": "user", "content": "Count"}]
    )
    await client.close()
    assert (message.stop_reason, message.stop_sequence) == ("end_turn", None)


async def test_mistral_gets_no_stream_options(gateway, fake_openai):
    client = anthropic_sdk(gateway, TEST_KEY, {"x-portkey-provider": "mistral-ai", "x-portkey-custom-host": fake_openai.url})
    async with client.messages.stream(
        model="mistral-small-latest", max_tokens=20, metadata={"user_id": "u1"}, messages=[{"role": "user", "content": "Hi"}]
    ) as events:
        message = await events.get_final_message()
    await client.close()
    assert message.content[0].text == "You said: Hi"
    body = orjson.loads(fake_openai.last.body)
    assert body["max_tokens"] == 20  # Mistral refuses the other names (422 extra_forbidden)
    assert "stream_options" not in body and "user" not in body


@pytest.mark.parametrize(
    ("status", "kind", "exception"),
    [
        (429, "rate_limit_error", anthropic.RateLimitError),
        (401, "invalid_request_error", anthropic.AuthenticationError),
        (400, "invalid_request_error", anthropic.BadRequestError),
        (503, "server_error", anthropic.InternalServerError),
    ],
)
async def test_upstream_errors_in_anthropics_shape(claude_to_openai, fake_openai, status, kind, exception):
    fake_openai.error = (status, {"error": {"message": "upstream says no", "type": kind, "param": None, "code": None}})
    with pytest.raises(exception) as raised:
        await claude_to_openai.messages.create(model=MODEL, max_tokens=5, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.status_code == status
    assert raised.value.body["type"] == "error"
    assert raised.value.body["error"]["message"] == "upstream says no"


async def test_stream_cut_mid_answer_ends_with_an_error(claude_to_openai, fake_openai):
    fake_openai.die_after_chunks = 3  # role chunk and two words, then the connection dies
    with pytest.raises(anthropic.APIError):
        async with claude_to_openai.messages.stream(
            model=MODEL, max_tokens=64, messages=[{"role": "user", "content": "Hello there my friend"}]
        ) as events:
            async for _ in events:
                pass


async def test_gateway_refusals_are_anthropic_shaped(claude_to_openai):
    with pytest.raises(anthropic.BadRequestError) as raised:
        await claude_to_openai.messages.create(
            model=MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": "Search"}],
            tools=[{"type": "web_search_20250305", "name": "web_search"}],
        )
    assert raised.value.body["error"]["type"] == "invalid_request_error"
    assert "tools[0].type" in raised.value.body["error"]["message"]
    with pytest.raises(anthropic.NotFoundError):
        await claude_to_openai.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "Hi"}])


def sse_events(body: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in body.decode().split("\n\n"):
        if not block.strip():
            continue
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((lines["event"], orjson.loads(lines["data"])))
    return events


async def test_structured_output_becomes_response_format(claude_to_openai, fake_openai):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    await claude_to_openai.messages.create(
        model=MODEL,
        max_tokens=50,
        messages=[{"role": "user", "content": "Answer in JSON"}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    body = orjson.loads(fake_openai.last.body)
    assert body["response_format"] == {"type": "json_schema", "json_schema": {"name": "response", "schema": schema}}


async def test_messages_take_post_only(client, auth_headers, fake_openai):
    body = {"model": MODEL, "max_tokens": 5, "messages": [{"role": "user", "content": "Hi"}]}
    response = await client.request("GET", "/v1/messages", json=body, headers=auth_headers)
    assert response.status == 405, await response.text()
    assert "use POST" in (await response.json())["error"]["message"]
    assert fake_openai.requests == []
