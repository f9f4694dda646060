"""The whole-answer builders alone: neutral events in, one answer object out."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.streaming.sse import SSEDecoder
from gateway.translate.anthropic_message import build_message
from gateway.translate.chat_completion import build_chat_completion
from gateway.translate.events import (
    BlockEnd,
    End,
    Finish,
    MessageStart,
    ReasoningDelta,
    RedactedReasoning,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)
from gateway.translate.openai_chunks import OpenAIChunkEncoder, UsageShape
from gateway.usage import Usage

pytestmark = pytest.mark.unit


def test_chat_completion_golden():
    events = [
        MessageStart("c1", "m-exact"), ReasoningDelta("a"), ReasoningDelta(signature="s"), ReasoningDelta("b"),
        TextDelta("Hel"), TextDelta("lo"), ToolCallStart(0, "t1", "f"), ToolCallDelta(0, '{"x":'), ToolCallDelta(0, "1}"),
        ToolCallStart(1, "t2", "g"), ToolCallDelta(1, "{}"), Finish("tool_calls"),
        UsageReport(Usage(input=9, output=4, cache_read=2, cache_write=1)),
    ]
    shape = UsageShape(cache_write_detail=True, anthropic_cache_names=True)
    assert build_chat_completion(events, model="asked", usage_shape=shape, created=5) == {
        "id": "c1",
        "object": "chat.completion",
        "created": 5,
        "model": "m-exact",
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant", "content": "Hello", "refusal": None, "reasoning_content": "ab",
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"x":1}'}},
                    {"id": "t2", "type": "function", "function": {"name": "g", "arguments": "{}"}},
                ],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }],
        "usage": {
            "prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13,
            "prompt_tokens_details": {"cached_tokens": 2, "cache_write_tokens": 1},
            "cache_read_input_tokens": 2, "cache_creation_input_tokens": 1,
        },
    }


def test_chat_completion_choices_in_order_no_text_is_null_and_stop_sequence_is_stop():
    events = [MessageStart(None, None, 1), Finish("stop_sequence", "END", choice=1), MessageStart(None, None, 0), TextDelta("", choice=0)]
    completion = build_chat_completion(events, model="asked")
    assert completion["model"] == "asked" and completion["id"].startswith("chatcmpl-")
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in completion["choices"]] == [(0, "", "stop"), (1, None, "stop")]


def test_anthropic_message_golden():
    events = [
        MessageStart(), ReasoningDelta("hm", "", 0), ReasoningDelta("", "sig", 0), RedactedReasoning("zz", 1),
        TextDelta("Hi", 2), BlockEnd(2), ToolCallStart(0, "t1", "f", 3), ToolCallDelta(0, '{"a":[1,2]}', 3),
        Finish("stop_sequence", "END"), UsageReport(Usage(input=7, output=3, cache_write=2)),
    ]
    assert build_message(events, model="claude", message_id=lambda: "msg_1") == {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "claude",
        "content": [
            {"type": "thinking", "thinking": "hm", "signature": "sig"},
            {"type": "redacted_thinking", "data": "zz"},
            {"type": "text", "text": "Hi"},
            {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1, 2]}},
        ],
        "stop_reason": "stop_sequence",
        "stop_sequence": "END",
        "usage": {"input_tokens": 5, "output_tokens": 3, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 0},
    }


pieces = st.text(max_size=10)
deltas = st.lists(
    st.one_of(st.builds(TextDelta, pieces), st.builds(ReasoningDelta, pieces), st.builds(lambda a: ToolCallDelta(0, a), pieces)),
    max_size=10,
)


@settings(max_examples=100, deadline=None)
@given(deltas, st.sampled_from(["stop", "length", "tool_calls", "content_filter", "stop_sequence"]))
def test_a_streamed_answer_and_a_whole_one_say_the_same(middle, reason):
    events = [MessageStart("c", "m"), ToolCallStart(0, "t", "f"), *middle, Finish(reason), UsageReport(Usage(input=1, output=2)), End()]
    whole = build_chat_completion(events, model="m", created=1)
    encoder = OpenAIChunkEncoder(model="m", include_usage=True, created=1)
    decoder = SSEDecoder()
    chunks = [orjson.loads(e.data) for e in decoder.feed(b"".join(encoder.encode(e) for e in events)) if e.data != "[DONE]"]
    streamed = {"content": "", "reasoning_content": "", "arguments": "", "finish": None}
    for chunk in chunks[:-1]:
        delta = chunk["choices"][0]["delta"]
        streamed["content"] += delta.get("content", "")
        streamed["reasoning_content"] += delta.get("reasoning_content", "")
        for call in delta.get("tool_calls", ()):
            streamed["arguments"] += call["function"]["arguments"]
        streamed["finish"] = chunk["choices"][0]["finish_reason"] or streamed["finish"]
    message = whole["choices"][0]["message"]
    assert (message["content"] or "") == streamed["content"]
    assert message.get("reasoning_content", "") == streamed["reasoning_content"]
    assert message["tool_calls"][0]["function"]["arguments"] == streamed["arguments"]
    assert whole["choices"][0]["finish_reason"] == streamed["finish"]
    assert whole["usage"] == chunks[-1]["usage"] and whole["id"] == chunks[0]["id"]


def test_cohere_whole_answers_through_the_builder():
    from gateway.providers.cohere.response import to_chat_completion as cohere_completion

    def answer(message, finish="COMPLETE"):
        usage = {"billed_units": {"input_tokens": 3, "output_tokens": 2}, "tokens": {"input_tokens": 9, "output_tokens": 9}}
        return orjson.dumps({"id": "c1", "message": {"role": "assistant", **message}, "finish_reason": finish, "usage": usage})

    plain = cohere_completion(answer({"content": [{"type": "thinking", "thinking": "hm"}, {"type": "text", "text": "Hi"}]}), "command-a")
    assert plain["id"] == "chatcmpl-c1" and plain["model"] == "command-a"
    assert plain["choices"][0]["message"] == {"role": "assistant", "content": "Hi", "refusal": None, "reasoning_content": "hm"}
    assert plain["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    empty = cohere_completion(answer({"content": []}), "m")
    assert empty["choices"][0]["message"]["content"] == ""
    call = {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}
    called = cohere_completion(answer({"tool_plan": "I will call f", "tool_calls": [call]}, "TOOL_CALL"), "m")["choices"][0]
    assert called["finish_reason"] == "tool_calls"
    assert called["message"] == {"role": "assistant", "content": None, "refusal": None, "reasoning_content": "I will call f", "tool_calls": [call]}
