"""Gemini end to end: the official OpenAI SDK → gateway → fake Gemini API."""

from __future__ import annotations

import base64
import struct

import openai
import pytest

from tests.conftest import openai_sdk
from tests.fakes.google import RESPONSE_ID, function_call, text
from tests.providers.google.conftest import GEMINI_KEY

MODEL = "gemini-2.5-flash"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
            "additionalProperties": False,
        },
        "strict": True,
    },
}


async def test_plain_chat(gemini, fake_gemini):
    completion = await gemini.chat.completions.create(
        model=MODEL,
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        max_completion_tokens=50,
        temperature=0.3,
        stop=["END"],
        seed=7,
    )
    assert completion.id == f"chatcmpl-{RESPONSE_ID}"
    assert completion.model == MODEL
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens, completion.usage.total_tokens) == (
        6,
        4,
        10,
    )
    sent = fake_gemini.last
    assert sent.path == f"/v1beta/models/{MODEL}:generateContent"
    assert sent.headers["x-goog-api-key"] == GEMINI_KEY
    assert "authorization" not in sent.headers
    assert sent.json["systemInstruction"] == {"parts": [{"text": "Be brief."}]}
    assert sent.json["generationConfig"] == {
        "temperature": 0.3,
        "seed": 7,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
    }


async def test_stream_with_usage(gemini, fake_gemini):
    fake_gemini.usage = {"thoughtsTokenCount": 3, "cachedContentTokenCount": 2}
    stream = await gemini.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert fake_gemini.last.path.endswith(":streamGenerateContent") and fake_gemini.last.query == "alt=sse"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: Hello there"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert len({c.id for c in chunks}) == 1
    usage = chunks[-1].usage
    assert chunks[-1].choices == []
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (3, 7, 10)
    assert usage.completion_tokens_details.reasoning_tokens == 3
    assert usage.prompt_tokens_details.cached_tokens == 2


async def test_streamed_events_reach_the_client_one_by_one(gemini, fake_gemini):
    import asyncio

    fake_gemini.gate = asyncio.Event()
    stream = await gemini.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    iterator = stream.__aiter__()
    first = await iterator.__anext__()
    second = await iterator.__anext__()  # the first word, while the fake still holds the rest
    assert first.choices[0].delta.role == "assistant" and second.choices[0].delta.content == "You"
    fake_gemini.gate.set()
    rest = [chunk async for chunk in iterator]
    assert "".join(c.choices[0].delta.content or "" for c in rest) == " said: Hello there"


async def test_parallel_tool_calls_and_their_results(gemini, fake_gemini):
    fake_gemini.reply = [
        [
            text("Checking."),
            function_call("get_weather", {"city": "Paris"}, "c2lnLTE="),
            function_call("get_weather", {"city": "Oslo"}),
        ]
    ]
    messages = [{"role": "user", "content": "Weather in Paris and Oslo?"}]
    completion = await gemini.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required"
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_weather", '{"city":"Oslo"}'),
    ]
    assert all(c.id.startswith("call_") for c in calls) and calls[0].id != calls[1].id
    sent = fake_gemini.last.json
    assert sent["toolConfig"] == {"functionCallingConfig": {"mode": "ANY"}}
    assert sent["tools"][0]["functionDeclarations"][0]["parameters"] == {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}},
        "required": ["city"],
        "propertyOrdering": ["city"],
    }

    fake_gemini.reply = None
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": calls[0].id, "content": '{"temp": 21}'},
        {"role": "tool", "tool_call_id": calls[1].id, "content": "cold"},
    ]
    messages.append({"role": "user", "content": "Thanks"})
    await gemini.chat.completions.create(model=MODEL, messages=messages, tools=[WEATHER])
    contents = fake_gemini.last.json["contents"]
    assert [c["role"] for c in contents] == ["user", "model", "user"]
    assert contents[1]["parts"][1] == {
        "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
        "thoughtSignature": "c2lnLTE=",
    }
    assert contents[1]["parts"][2] == {"functionCall": {"name": "get_weather", "args": {"city": "Oslo"}}}
    assert contents[2]["parts"] == [
        {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
        {"functionResponse": {"name": "get_weather", "response": {"result": "cold"}}},
        {"text": "Thanks"},
    ]


async def test_streamed_tool_calls(gemini, fake_gemini):
    fake_gemini.reply = [
        [function_call("get_weather", {"city": "Paris"}), function_call("get_weather", {"city": "Oslo"})]
    ]
    stream = await gemini.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Weather?"}], tools=[WEATHER], stream=True
    )
    calls: dict[int, dict] = {}
    finish = None
    async for chunk in stream:
        for delta in chunk.choices[0].delta.tool_calls or ():
            call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
            call["id"] = call["id"] or delta.id
            call["name"] += (delta.function.name or "") if delta.function else ""
            call["arguments"] += (delta.function.arguments or "") if delta.function else ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert [(c["name"], c["arguments"]) for c in calls.values()] == [
        ("get_weather", '{"city":"Paris"}'),
        ("get_weather", '{"city":"Oslo"}'),
    ]
    assert all(c["id"].startswith("call_") for c in calls.values())


async def test_json_schema_answer(gemini, fake_gemini):
    fake_gemini.reply = [[text('{"city": "Paris", "temp": 21}')]]
    completion = await gemini.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Weather?"}],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "weather",
                "strict": True,
                "schema": {
                    "$schema": "http://json-schema.org/draft-07/schema#",
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "temp": {"type": ["number", "null"]}},
                    "required": ["city", "temp"],
                    "additionalProperties": False,
                },
            },
        },
    )
    assert completion.choices[0].message.content == '{"city": "Paris", "temp": 21}'
    config = fake_gemini.last.json["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "OBJECT",
        "properties": {"city": {"type": "STRING"}, "temp": {"type": "NUMBER", "nullable": True}},
        "required": ["city", "temp"],
        "propertyOrdering": ["city", "temp"],
    }


async def test_n_choices_and_reasoning(gemini, fake_gemini):
    fake_gemini.reply = [[text("thinking...", thought=True), text("A")], [text("B")]]
    fake_gemini.usage = {"thoughtsTokenCount": 4}
    completion = await gemini.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Pick"}], n=2, reasoning_effort="high"
    )
    assert [(c.index, c.message.content) for c in completion.choices] == [(0, "A"), (1, "B")]
    assert completion.choices[0].message.reasoning_content == "thinking..."
    assert completion.usage.completion_tokens_details.reasoning_tokens == 4
    config = fake_gemini.last.json["generationConfig"]
    assert config["candidateCount"] == 2
    assert config["thinkingConfig"] == {"thinkingBudget": 24576, "includeThoughts": True}


async def test_streamed_n_choices(gemini, fake_gemini):
    fake_gemini.reply = [[text("A a")], [text("B b")]]
    stream = await gemini.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Pick"}], n=2, stream=True
    )
    texts = {0: "", 1: ""}
    finishes = {}
    async for chunk in stream:
        choice = chunk.choices[0]
        texts[choice.index] += choice.delta.content or ""
        if choice.finish_reason:
            finishes[choice.index] = choice.finish_reason
    assert texts == {0: "A a", 1: "B b"} and finishes == {0: "stop", 1: "stop"}


async def test_images_inline_and_by_url(gemini, fake_gemini):
    png = base64.b64encode(b"\x89PNG-image").decode()
    await gemini.chat.completions.create(
        model=MODEL,
        messages=[
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;name=a.png;base64,{png}"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    )
    assert fake_gemini.last.json["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": png}},
        {"fileData": {"fileUri": "https://example.com/cat.jpg", "mimeType": "image/jpeg"}},
    ]


async def test_embeddings_one_and_many(gemini, fake_gemini):
    encoding = "float"
    one = await gemini.embeddings.create(
        model="gemini-embedding-001", input="hello", dimensions=4, encoding_format=encoding
    )
    assert fake_gemini.last.path == "/v1beta/models/gemini-embedding-001:embedContent"
    assert fake_gemini.last.json == {"content": {"parts": [{"text": "hello"}]}, "outputDimensionality": 4}
    many = await gemini.embeddings.create(
        model="gemini-embedding-001", input=["hello", "world"], encoding_format=encoding
    )
    assert fake_gemini.last.path == "/v1beta/models/gemini-embedding-001:batchEmbedContents"
    assert [r["model"] for r in fake_gemini.last.json["requests"]] == ["models/gemini-embedding-001"] * 2
    assert len(one.data) == 1 and len(one.data[0].embedding) == 4
    assert [d.index for d in many.data] == [0, 1] and len(many.data[1].embedding) == 8
    assert many.data[0].embedding[:4] == one.data[0].embedding  # the same text, the same vector


async def test_embeddings_default_sdk_call_decodes_base64(gemini, fake_gemini):
    # The SDK asks for base64 by default and decodes it: the floats must survive.
    result = await gemini.embeddings.create(model="gemini-embedding-001", input="hello")
    raw = struct.pack("<8f", *result.data[0].embedding)
    assert len(raw) == 32 and all(0 <= value <= 1 for value in result.data[0].embedding)


@pytest.mark.parametrize(
    "status, google_status, error_class, openai_type",
    [
        (429, "RESOURCE_EXHAUSTED", openai.RateLimitError, "rate_limit_error"),
        (500, "INTERNAL", openai.InternalServerError, "api_error"),
        (403, "PERMISSION_DENIED", openai.PermissionDeniedError, "permission_error"),
    ],
)
async def test_upstream_errors_keep_their_status(gemini, fake_gemini, status, google_status, error_class, openai_type):
    fake_gemini.error = (status, google_status, "Resource has been exhausted (e.g. check quota).")
    for stream in (False, True):
        with pytest.raises(error_class) as caught:
            await gemini.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=stream
            )
        assert caught.value.status_code == status
        assert caught.value.body["type"] == openai_type
        assert caught.value.body["code"] == google_status.lower()
        assert caught.value.body["message"] == "Resource has been exhausted (e.g. check quota)."


async def test_a_wrong_key_and_a_missing_model(gateway, gemini_headers, gemini):
    wrong = openai_sdk(gateway, "not-a-gemini-key", gemini_headers)
    with pytest.raises(openai.BadRequestError) as caught:
        await wrong.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    await wrong.close()
    assert caught.value.body["message"] == "API key not valid. Please pass a valid API key."
    assert "not-a-gemini-key" not in str(caught.value.body)
    with pytest.raises(openai.NotFoundError):
        await gemini.chat.completions.create(model="gemini-missing-1", messages=[{"role": "user", "content": "Hi"}])


async def test_a_blocked_prompt_is_a_clear_400(gemini, fake_gemini):
    fake_gemini.block_reason = "SAFETY"
    for stream in (False, True):
        with pytest.raises(openai.BadRequestError) as caught:
            await gemini.chat.completions.create(
                model=MODEL, messages=[{"role": "user", "content": "Hi"}], stream=stream
            )
        assert caught.value.body["code"] == "prompt_blocked"
        assert "blocked the prompt (SAFETY)" in caught.value.body["message"]


async def test_an_error_mid_stream_ends_with_an_error_event(gemini, fake_gemini):
    fake_gemini.error_event_after = 2
    stream = await gemini.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    received = ""
    with pytest.raises(openai.APIError) as caught:
        async for chunk in stream:
            received += chunk.choices[0].delta.content or ""
    assert received == "You said:"
    assert "overloaded" in str(caught.value)


async def test_a_stream_cut_before_its_finish_is_an_error(client, gemini_headers, fake_gemini):
    fake_gemini.end_after = 2
    response = await client.post(
        "/v1/chat/completions",
        headers={**gemini_headers, "Authorization": f"Bearer {GEMINI_KEY}"},
        json={"model": MODEL, "messages": [{"role": "user", "content": "Hello there"}], "stream": True},
    )
    body = await response.read()
    assert response.status == 200
    assert b"[DONE]" not in body
    assert body.rstrip().endswith(b'"code":"upstream_stream_truncated"}}')


async def test_refused_before_any_call(client, gemini_headers, fake_gemini):
    headers = {**gemini_headers, "Authorization": f"Bearer {GEMINI_KEY}"}
    bad_result = {
        "model": MODEL,
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "tool", "tool_call_id": "call_unknown", "content": "x"},
        ],
    }
    response = await client.post("/v1/chat/completions", headers=headers, json=bad_result)
    assert response.status == 400 and (await response.json())["error"]["param"] == "messages[1].tool_call_id"
    response = await client.post("/v1/images/generations", headers=headers, json={"model": MODEL, "prompt": "x"})
    assert response.status == 404 and (await response.json())["error"]["code"] == "unsupported_endpoint"
    assert fake_gemini.requests == []
