"""The stream translator: Anthropic events in (any split), OpenAI chunks out."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError
from gateway.providers.anthropic.stream import ChatStreamTranslator
from tests.fakes.anthropic import sse, stream_events, text, thinking, tool_use

MESSAGE = {
    "id": "msg_01",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        thinking("Think."),
        text("Let me check."),
        tool_use("toolu_1", "get_weather", {"city": "Paris"}),
        tool_use("toolu_2", "get_time", {}),
    ],
    "stop_reason": "tool_use",
    "stop_sequence": None,
    "usage": {"input_tokens": 10, "cache_read_input_tokens": 4, "cache_creation_input_tokens": 2, "output_tokens": 30},
}


def wire(message=MESSAGE, extra=()) -> bytes:
    return b"".join(sse(name, data) for name, data in stream_events(message, list(extra)))


def translate(*chunks: bytes, include_usage: bool = True) -> list:
    translator = ChatStreamTranslator(model="claude-sonnet-4-5", include_usage=include_usage)
    out = b"".join(translator.feed(chunk) for chunk in chunks) + translator.close()
    return parse(out)


def parse(out: bytes) -> list:
    events = []
    for block in out.decode().split("\n\n"):
        if block:
            assert block.startswith("data: ")
            payload = block[len("data: ") :]
            events.append(payload if payload == "[DONE]" else orjson.loads(payload))
    return events


def deltas(events):
    return [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e["choices"]]


def test_golden_transcript():
    events = translate(wire())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert {c["id"] for c in chunks} == {"msg_01"}
    assert {c["created"] for c in chunks} == {chunks[0]["created"]}
    assert {c["model"] for c in chunks} == {"claude-sonnet-4-5-20250929"}
    assert deltas(chunks) == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "Think."},
        {"content": "Let"},
        {"content": " me"},
        {"content": " check."},
        {"tool_calls": [{"index": 0, "id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"cit'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'y":"P'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": 'aris"}'}}]},
        {"tool_calls": [{"index": 1, "id": "toolu_2", "type": "function", "function": {"name": "get_time", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{"}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "}"}}]},
        {},
    ]
    finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
    assert finish == [None] * 12 + ["tool_calls"]
    assert all(c["usage"] is None for c in chunks[:-1])
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {
        "prompt_tokens": 16,
        "completion_tokens": 30,
        "total_tokens": 46,
        "prompt_tokens_details": {"cached_tokens": 4},
        "cache_read_input_tokens": 4,
        "cache_creation_input_tokens": 2,
    }


def test_without_include_usage_there_is_no_usage_chunk():
    events = translate(wire(), include_usage=False)
    assert all("usage" not in e for e in events[:-1])
    assert events[-2]["choices"][0]["finish_reason"] == "tool_calls"


def test_unknown_events_pings_and_comments_are_tolerated():
    extra = [("content_block_teleport", {"index": 9}), ("ping", {})]
    noisy = wire(extra=extra).replace(b"event: ping\n", b": keep-alive\nevent: ping\n")
    assert deltas(translate(noisy)) == deltas(translate(wire()))


def test_tool_without_argument_pieces_gets_an_empty_object():
    events = [
        ("message_start", {"message": {**MESSAGE, "content": [], "usage": {"input_tokens": 3, "output_tokens": 1}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "toolu_7", "name": "now", "input": {}}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        ("content_block_stop", {"index": 0}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ("message_stop", {}),
    ]
    out = deltas(translate(b"".join(sse(name, data) for name, data in events)))
    assert out[-2] == {"tool_calls": [{"index": 0, "function": {"arguments": "{}"}}]}


def test_error_event_raises_with_anthropic_type():
    raw = wire()
    cut = raw.index(b"event: content_block_start")
    error = sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
    translator = ChatStreamTranslator(model="m", include_usage=False)
    assert translator.feed(raw[:cut])  # the role chunk went out
    with pytest.raises(GatewayError) as raised:
        translator.feed(error)
    assert raised.value.status == 529
    assert raised.value.code == "overloaded_error"
    assert raised.value.message == "Overloaded"


def test_error_in_the_same_read_as_text_comes_after_that_text():
    raw = wire()
    cut = raw.index(b"event: content_block_stop", raw.index(b"text_delta"))
    error = sse("error", {"error": {"type": "overloaded_error", "message": "Overloaded"}})
    translator = ChatStreamTranslator(model="m", include_usage=False)
    out = parse(translator.feed(raw[:cut] + error))
    assert "".join(d.get("content", "") for d in deltas(out)) == "Let me check."
    with pytest.raises(GatewayError) as raised:
        translator.close()
    assert raised.value.code == "overloaded_error"


def test_error_before_any_content_raises_at_once():
    raw = wire()
    cut = raw.index(b"event: content_block_start")
    error = sse("error", {"error": {"type": "rate_limit_error", "message": "Slow down"}})
    translator = ChatStreamTranslator(model="m", include_usage=False)
    with pytest.raises(GatewayError) as raised:
        translator.feed(raw[:cut] + error)
    assert raised.value.status == 429


def test_stream_that_ends_before_message_stop_is_an_error():
    raw = wire()
    translator = ChatStreamTranslator(model="m", include_usage=False)
    out = translator.feed(raw[: raw.index(b"event: message_stop")])
    assert b"[DONE]" not in out
    with pytest.raises(GatewayError) as raised:
        translator.close()
    assert raised.value.code == "upstream_stream_truncated"


def test_event_data_that_is_not_json_is_an_error():
    translator = ChatStreamTranslator(model="m", include_usage=False)
    with pytest.raises(GatewayError):
        translator.feed(b"event: message_start\ndata: {not json\n\n")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_random_chunk_splits_give_the_same_chunks(data):
    raw = wire()
    cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=15)))
    chunks = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True)]
    whole = translate(raw)
    split = translate(*chunks)
    for event in whole + split:
        if isinstance(event, dict):
            event["created"] = 0
    assert split == whole


def test_answer_tool_becomes_content_and_text_is_left_out():
    message = {**MESSAGE, "content": [text("Sure:"), tool_use("toolu_9", "json_response", {"a": [1]})]}
    translator = ChatStreamTranslator(model="m", include_usage=False, answer_tool="json_response")
    events = parse(translator.feed(wire(message)) + translator.close())
    assert "".join(d.get("content") or "" for d in deltas(events)) == '{"a":[1]}'
    assert not any("tool_calls" in d for d in deltas(events))
    assert [e["choices"][0]["finish_reason"] for e in events if isinstance(e, dict)][-1] == "stop"


def test_answer_tool_without_argument_pieces_is_an_empty_object():
    events = [
        ("message_start", {"message": {**MESSAGE, "content": [], "usage": {"input_tokens": 3, "output_tokens": 1}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "json_response", "input": {}}}),
        ("content_block_stop", {"index": 0}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        ("message_stop", {}),
    ]
    translator = ChatStreamTranslator(model="m", include_usage=False, answer_tool="json_response")
    out = deltas(parse(translator.feed(b"".join(sse(name, data) for name, data in events)) + translator.close()))
    assert [d.get("content") for d in out] == ["", "{}", None]
