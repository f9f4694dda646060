"""Cohere end to end: the official OpenAI SDK → gateway → fake Cohere API v2."""

from __future__ import annotations

import openai
import orjson
import pytest

from tests.providers.cohere.conftest import COHERE_KEY

MODEL = "command-a-03-2025"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather for a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        "strict": True,
    },
}


async def test_plain_chat(cohere, fake_cohere):
    completion = await cohere.chat.completions.create(
        model=MODEL,
        messages=[{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        max_completion_tokens=50,
        temperature=0.3,
        top_p=0.5,
        stop="END",
        seed=7,
    )
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    assert fake_cohere.last.headers["Accept"] == "application/json"
    # The billed units, not the raw counts with Cohere's template tokens.
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (4, 4)
    sent = fake_cohere.last
    assert sent.path == "/v2/chat" and sent.headers["Authorization"] == f"Bearer {COHERE_KEY}"
    assert sent.json == {
        "model": MODEL,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        "temperature": 0.3,
        "p": 0.5,
        "seed": 7,
        "max_tokens": 50,
        "stop_sequences": ["END"],
    }


async def test_stream_with_usage(cohere, fake_cohere):
    stream = await cohere.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hello there"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert fake_cohere.last.json["stream"] is True
    assert fake_cohere.last.headers["Accept"] == "text/event-stream"
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: Hello there"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    assert len({c.id for c in chunks}) == 1
    assert chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 6


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_calls_and_their_results(cohere, fake_cohere, stream):
    fake_cohere.tool_calls = [
        ("call_a1", "get_weather", {"city": "Paris"}),
        ("call_b2", "get_weather", {"city": "Oslo"}),
    ]
    messages = [{"role": "user", "content": "Weather in Paris and Oslo?"}]
    answer = await cohere.chat.completions.create(
        model=MODEL, messages=messages, tools=[WEATHER], tool_choice="required", stream=stream
    )
    if stream:
        chunks = [chunk async for chunk in answer]
        calls: dict[int, dict] = {}
        for chunk in chunks:
            for delta in (chunk.choices[0].delta.tool_calls or ()) if chunk.choices else ():
                call = calls.setdefault(delta.index, {"id": delta.id, "name": delta.function.name, "arguments": ""})
                call["arguments"] += delta.function.arguments or ""
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
        plan = "".join(getattr(c.choices[0].delta, "reasoning_content", None) or "" for c in chunks if c.choices)
        got = [(c["id"], c["name"], orjson.loads(c["arguments"])) for _, c in sorted(calls.items())]
    else:
        message = answer.choices[0].message
        finish, plan = answer.choices[0].finish_reason, message.reasoning_content
        got = [(c.id, c.function.name, orjson.loads(c.function.arguments)) for c in message.tool_calls]
    assert got == [("call_a1", "get_weather", {"city": "Paris"}), ("call_b2", "get_weather", {"city": "Oslo"})]
    assert finish == "tool_calls" and plan == "I will call the tool."
    sent = fake_cohere.last.json
    assert sent["tool_choice"] == "REQUIRED" and sent["strict_tools"] is True
    assert sent["tools"] == [
        {"type": "function", "function": {k: v for k, v in WEATHER["function"].items() if k != "strict"}}
    ]

    # The client sends the calls back with their results.
    fake_cohere.tool_calls = None
    followup = messages + [
        {
            "role": "assistant",
            "content": "Checking.",
            "tool_calls": [
                {
                    "id": "call_a1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a1", "content": "Sunny"},
    ]
    await cohere.chat.completions.create(model=MODEL, messages=followup, tools=[WEATHER])
    assert fake_cohere.last.json["messages"][1:] == [
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "call_a1",
                    "type": "function",
                    # The arguments were parsed (checked) once, like every provider's.
                    "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
                }
            ],
            "tool_plan": "Checking.",
        },
        {"role": "tool", "tool_call_id": "call_a1", "content": "Sunny"},
    ]


async def test_a_named_tool_choice_keeps_only_that_tool(cohere, fake_cohere):
    other = {"type": "function", "function": {"name": "other", "parameters": {"type": "object", "properties": {}}}}
    await cohere.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Hi"}],
        tools=[WEATHER, other],
        tool_choice={"type": "function", "function": {"name": "other"}},
    )
    sent = fake_cohere.last.json
    assert [t["function"]["name"] for t in sent["tools"]] == ["other"] and sent["tool_choice"] == "REQUIRED"


async def test_max_tokens_finish_is_length(cohere, fake_cohere):
    fake_cohere.finish_reason = "MAX_TOKENS"
    completion = await cohere.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert completion.choices[0].finish_reason == "length"


@pytest.mark.parametrize(
    ("error", "exception"),
    [
        ((401, "invalid api token"), openai.AuthenticationError),
        ((429, "You are using a Trial key"), openai.RateLimitError),
        ((498, "invalid api token"), openai.APIStatusError),
        ((500, "internal server error"), openai.InternalServerError),
    ],
)
async def test_errors_keep_their_meaning(cohere, fake_cohere, error, exception):
    fake_cohere.error = error
    with pytest.raises(exception) as caught:
        await cohere.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.body["message"] == error[1]
    assert caught.value.status_code == error[0]
    if error[0] in (401, 498):
        assert caught.value.body["type"] == "authentication_error"


async def test_a_missing_model_is_a_404(cohere):
    with pytest.raises(openai.NotFoundError) as caught:
        await cohere.chat.completions.create(model="command-missing-1", messages=[{"role": "user", "content": "Hi"}])
    assert "not found" in caught.value.body["message"]


async def test_a_stream_cut_before_message_end_is_an_error(cohere, fake_cohere):
    fake_cohere.end_after = 4
    stream = await cohere.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hello there"}], stream=True
    )
    with pytest.raises(openai.APIError) as caught:
        async for _ in stream:
            pass
    assert "incomplete" in str(caught.value)


async def test_embeddings(cohere, fake_cohere):
    answer = await cohere.embeddings.create(
        model="embed-v4.0",
        input=["one two", "three"],
        dimensions=3,
        encoding_format="float",
        extra_body={"input_type": "search_query"},
    )
    assert [len(item.embedding) for item in answer.data] == [3, 3]
    assert answer.usage.prompt_tokens == 3
    assert fake_cohere.last.path == "/v2/embed"
    assert fake_cohere.last.json == {
        "model": "embed-v4.0",
        "texts": ["one two", "three"],
        "input_type": "search_query",
        "embedding_types": ["float"],
        "output_dimension": 3,
    }


async def test_a_streamed_embeddings_call_is_a_400_before_any_upstream_call(cohere, fake_cohere):
    with pytest.raises(openai.BadRequestError) as caught:
        await cohere.embeddings.create(model="embed-v4.0", input=["one"], extra_body={"stream": True})
    assert caught.value.body["param"] == "stream"
    assert fake_cohere.requests == []


async def test_openai_beta_is_not_sent_to_cohere(cohere, fake_cohere):
    await cohere.embeddings.create(
        model="embed-v4.0", input=["one"], encoding_format="float", extra_headers={"OpenAI-Beta": "assistants=v2"}
    )
    assert "openai-beta" not in fake_cohere.last.headers
