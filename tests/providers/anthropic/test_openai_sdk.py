"""End to end: the official OpenAI SDK → gateway → (fake) Anthropic Messages API."""

from __future__ import annotations

import asyncio
import logging

import openai
import orjson
import pytest

from tests.fakes.anthropic import text, tool_use

from .conftest import ANTHROPIC_KEY
from .samples import PNG_B64, WEATHER_TOOL

# A made-up name: SDKs warn about models they know to be deprecated.
MODEL = "claude-test-1"


async def test_plain_chat(claude_via_openai, fake_anthropic):
    raw = await claude_via_openai.chat.completions.with_raw_response.create(
        model=MODEL,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
    )
    completion = raw.parse()
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == MODEL
    assert completion.usage.prompt_tokens == 4 and completion.usage.completion_tokens == 4
    assert raw.headers["x-portkey-provider"] == "anthropic"

    upstream = fake_anthropic.last
    assert upstream.path == "/v1/messages"
    assert upstream.headers["x-api-key"] == ANTHROPIC_KEY
    assert upstream.headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in upstream.headers
    assert upstream.json["system"] == "Be brief."
    assert upstream.json["max_tokens"] == 4096


async def test_anthropic_version_and_beta_headers(claude_via_openai, fake_anthropic):
    await claude_via_openai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"x-portkey-anthropic-version": "2024-01-01", "anthropic-beta": "tools-2024-04-04"},
    )
    assert fake_anthropic.last.headers["anthropic-version"] == "2024-01-01"
    assert fake_anthropic.last.headers["anthropic-beta"] == "tools-2024-04-04"
    await claude_via_openai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        extra_headers={"anthropic-version": "2023-01-01", "x-portkey-anthropic-beta": "prompt-caching-2024-07-31"},
    )
    assert fake_anthropic.last.headers["anthropic-version"] == "2023-01-01"
    assert fake_anthropic.last.headers["anthropic-beta"] == "prompt-caching-2024-07-31"


async def test_cached_tokens_in_usage(claude_via_openai, fake_anthropic):
    fake_anthropic.usage = {"cache_read_input_tokens": 1000, "cache_creation_input_tokens": 50}
    completion = await claude_via_openai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert completion.usage.prompt_tokens == 1 + 1000 + 50
    assert completion.usage.prompt_tokens_details.cached_tokens == 1000
    assert completion.usage.total_tokens == 1051 + completion.usage.completion_tokens


async def test_image_parts_reach_anthropic_as_image_blocks(claude_via_openai, fake_anthropic):
    await claude_via_openai.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
                ],
            }
        ],
    )
    assert fake_anthropic.last.json["messages"][0]["content"][1] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64},
    }


async def test_stream_with_usage(claude_via_openai, fake_anthropic):
    stream = await claude_via_openai.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: Hello there"
    assert len({c.id for c in chunks}) == 1
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 4
    assert chunks[-1].usage.prompt_tokens == 2
    assert fake_anthropic.last.json["stream"] is True


async def test_stream_reaches_the_client_chunk_by_chunk(claude_via_openai, fake_anthropic):
    fake_anthropic.gate = asyncio.Event()
    stream = await claude_via_openai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "one two three"}], stream=True
    )
    received = ""
    async with asyncio.timeout(10):
        async for chunk in stream:
            received += chunk.choices[0].delta.content or ""
            if received:
                break
    # The fake is still holding the rest back: the first words came through alone.
    assert received == "You"
    fake_anthropic.gate.set()
    async for chunk in stream:
        received += chunk.choices[0].delta.content or ""
    assert received == "You said: one two three"


async def test_tool_calls_streamed_then_answered(claude_via_openai, fake_anthropic):
    fake_anthropic.reply = [
        text("Let me check."),
        tool_use("toolu_01A", "get_weather", {"city": "Paris"}),
        tool_use("toolu_01B", "get_weather", {"city": "Rome"}),
    ]
    messages = [{"role": "user", "content": "Weather in Paris and Rome?"}]
    stream = await claude_via_openai.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER_TOOL], tool_choice="required", stream=True
    )
    calls: dict[int, dict] = {}
    content = ""
    finish = None
    async for chunk in stream:
        choice = chunk.choices[0]
        content += choice.delta.content or ""
        finish = choice.finish_reason or finish
        for piece in choice.delta.tool_calls or []:
            call = calls.setdefault(piece.index, {"id": None, "name": None, "arguments": ""})
            call["id"] = piece.id or call["id"]
            call["name"] = (piece.function.name if piece.function else None) or call["name"]
            call["arguments"] += (piece.function.arguments if piece.function else None) or ""
    assert content == "Let me check."
    assert finish == "tool_calls"
    assert calls == {
        0: {"id": "toolu_01A", "name": "get_weather", "arguments": '{"city":"Paris"}'},
        1: {"id": "toolu_01B", "name": "get_weather", "arguments": '{"city":"Rome"}'},
    }
    assert fake_anthropic.last.json["tool_choice"] == {"type": "any"}

    # Second turn: the tool results go back; the (strict) fake checks they answer the calls.
    fake_anthropic.reply = None
    messages.append(
        {
            "role": "assistant",
            "content": content,
            "tool_calls": [
                {"id": c["id"], "type": "function", "function": {"name": c["name"], "arguments": c["arguments"]}}
                for c in calls.values()
            ],
        }
    )
    messages += [
        {"role": "tool", "tool_call_id": "toolu_01A", "content": "18C"},
        {"role": "tool", "tool_call_id": "toolu_01B", "content": "25C"},
    ]
    completion = await claude_via_openai.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER_TOOL])
    assert completion.choices[0].finish_reason == "stop"
    sent = fake_anthropic.last.json["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant", "user"]
    assert [b["tool_use_id"] for b in sent[2]["content"]] == ["toolu_01A", "toolu_01B"]
    assert sent[1]["content"][1]["input"] == {"city": "Paris"}


async def test_tool_call_in_a_whole_answer(claude_via_openai, fake_anthropic):
    fake_anthropic.reply = [tool_use("toolu_01A", "get_weather", {"city": "Paris"})]
    completion = await claude_via_openai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Paris?"}], tools=[WEATHER_TOOL]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    assert choice.message.tool_calls[0].id == "toolu_01A"
    assert orjson.loads(choice.message.tool_calls[0].function.arguments) == {"city": "Paris"}


async def test_bad_key_is_a_401_in_openai_shape(gateway, anthropic_headers):
    client = openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")), api_key="sk-wrong", default_headers=anthropic_headers, max_retries=0
    )
    async with client:
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.status_code == 401
    assert raised.value.body == {
        "message": "invalid x-api-key",
        "type": "authentication_error",
        "param": None,
        "code": "authentication_error",
    }


async def test_upstream_400_is_passed_on_in_openai_shape(claude_via_openai, fake_anthropic):
    fake_anthropic.error = (400, "invalid_request_error", "messages.0.content: text content blocks must be non-empty")
    with pytest.raises(openai.BadRequestError) as raised:
        await claude_via_openai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.body["message"] == "messages.0.content: text content blocks must be non-empty"
    assert raised.value.body["type"] == "invalid_request_error"


async def test_unknown_model_is_a_404_in_openai_shape(claude_via_openai):
    with pytest.raises(openai.NotFoundError) as raised:
        await claude_via_openai.chat.completions.create(model="claude-missing-9", messages=[{"role": "user", "content": "Hi"}])
    assert raised.value.body["message"] == "model: claude-missing-9"


async def test_bad_request_is_refused_before_calling_anthropic(claude_via_openai, fake_anthropic):
    with pytest.raises(openai.BadRequestError) as raised:
        await claude_via_openai.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]
        )
    assert raised.value.body["param"] == "messages[0].content[0]"
    assert fake_anthropic.requests == []


async def test_overloaded_error_mid_stream_raises_in_the_sdk(claude_via_openai, fake_anthropic):
    fake_anthropic.error_event_after = 5  # after message_start, ping, block start and two words
    fake_anthropic.gate = asyncio.Event()  # held after the first word, until the client has it
    stream = await claude_via_openai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    received = ""
    with pytest.raises(openai.APIError) as raised:
        async for chunk in stream:
            received += chunk.choices[0].delta.content or ""
            if received:
                fake_anthropic.gate.set()
    assert received == "You said:"
    assert raised.value.message == "Overloaded"
    assert raised.value.body["code"] == "overloaded_error"


async def test_overloaded_error_before_anything_keeps_its_status(claude_via_openai, fake_anthropic):
    fake_anthropic.error_event_after = 0
    with pytest.raises(openai.APIStatusError) as raised:
        await claude_via_openai.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=True
        )
    assert raised.value.status_code == 529
    assert raised.value.body["code"] == "overloaded_error"


@pytest.mark.parametrize("knob", ["end_after", "abort_after"])
async def test_truncated_stream_raises_in_the_sdk_and_never_says_done(client, anthropic_headers, fake_anthropic, knob):
    setattr(fake_anthropic, knob, 6)
    response = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], "stream": True},
        headers={**anthropic_headers, "Authorization": f"Bearer {ANTHROPIC_KEY}"},
    )
    assert response.status == 200
    body = await response.read()
    assert b"[DONE]" not in body
    last = body.strip().split(b"\n\n")[-1]
    assert last.startswith(b"event: error\ndata: {\"error\"")


async def test_truncated_stream_raises_in_the_openai_sdk(claude_via_openai, fake_anthropic):
    fake_anthropic.end_after = 6
    stream = await claude_via_openai.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    with pytest.raises(openai.APIError, match="ended before message_stop"):
        async for _ in stream:
            pass


async def test_endpoints_anthropic_does_not_serve_are_a_clear_404(claude_via_openai, fake_anthropic):
    with pytest.raises(openai.NotFoundError) as raised:
        await claude_via_openai.embeddings.create(model="claude", input="hi")
    assert "does not serve /v1/embeddings" in raised.value.body["message"]
    assert fake_anthropic.requests == []


async def test_client_hanging_up_cancels_the_anthropic_call(client, anthropic_headers, fake_anthropic):
    fake_anthropic.gate = asyncio.Event()  # never set: the fake holds the stream open
    response = await client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], "stream": True},
        headers={**anthropic_headers, "Authorization": f"Bearer {ANTHROPIC_KEY}"},
    )
    await response.content.readany()
    response.close()
    async with asyncio.timeout(10):
        await fake_anthropic.disconnected.wait()


async def test_keys_never_reach_the_log(claude_via_openai, fake_anthropic, caplog):
    caplog.set_level(logging.DEBUG)
    await claude_via_openai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    fake_anthropic.error = (401, "authentication_error", "invalid x-api-key")
    with pytest.raises(openai.AuthenticationError) as raised:
        await claude_via_openai.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert ANTHROPIC_KEY not in str(raised.value.body)
    assert caplog.records
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records if record.name.startswith("gateway"))
    assert logged and ANTHROPIC_KEY not in logged


async def test_config_mode_with_key_and_version_in_the_config(gateway, fake_anthropic):
    config = {
        "provider": "anthropic",
        "api_key": ANTHROPIC_KEY,
        "custom_host": fake_anthropic.url,
        "anthropicVersion": "2023-06-01",
        "anthropic_beta": "output-128k-2025-02-19",
    }
    client = openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")),
        api_key="unused-by-the-gateway",
        default_headers={"x-portkey-config": orjson.dumps(config).decode()},
        max_retries=0,
    )
    async with client:
        completion = await client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert completion.choices[0].message.content == "You said: Hi"
    assert fake_anthropic.last.headers["x-api-key"] == ANTHROPIC_KEY
    assert fake_anthropic.last.headers["anthropic-beta"] == "output-128k-2025-02-19"
