"""Provider stream translators alone: upstream events in, neutral events out."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import GatewayError, UpstreamBroken
from gateway.providers.anthropic.stream import MessagesEvents
from gateway.providers.bedrock.converse_stream import ConverseEvents
from gateway.providers.google.stream import ChatStreamTranslator as GeminiStream
from gateway.providers.google.stream import GeminiEvents
from gateway.streaming.eventstream import EventStreamDecoder
from gateway.streaming.sse import Event
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
from gateway.usage import Usage
from tests.fakes.eventstream import event_frame, exception_frame

pytestmark = pytest.mark.unit


def anthropic(name: str, data: dict) -> Event:
    return Event(name, orjson.dumps({"type": name, **data}).decode())


def run(translator, upstream: list) -> list:
    out = []
    for event in upstream:
        out.extend(translator.event(event))
    return out


def test_anthropic_events():
    upstream = [
        anthropic("message_start", {"message": {"id": "msg_1", "model": "claude-x", "usage": {"input_tokens": 7}}}),
        anthropic("ping", {}),
        anthropic("content_block_start", {"index": 0, "content_block": {"type": "thinking", "thinking": ""}}),
        anthropic("content_block_delta", {"index": 0, "delta": {"type": "thinking_delta", "thinking": "Hm."}}),
        anthropic("content_block_delta", {"index": 0, "delta": {"type": "signature_delta", "signature": "sig"}}),
        anthropic("content_block_stop", {"index": 0}),
        anthropic("content_block_start", {"index": 1, "content_block": {"type": "text", "text": ""}}),
        anthropic("content_block_delta", {"index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
        anthropic("content_block_stop", {"index": 1}),
        anthropic("content_block_start", {"index": 2, "content_block": {"type": "tool_use", "id": "t1", "name": "f", "input": {}}}),
        anthropic("content_block_delta", {"index": 2, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        anthropic("content_block_delta", {"index": 2, "delta": {"type": "input_json_delta", "partial_json": '{"a":1}'}}),
        anthropic("content_block_stop", {"index": 2}),
        anthropic("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9, "cache_read_input_tokens": 3}}),
        anthropic("message_stop", {}),
        anthropic("content_block_start", {"index": 3, "content_block": {"type": "text", "text": "after the end"}}),
    ]
    assert run(MessagesEvents(), upstream) == [
        MessageStart("msg_1", "claude-x"),
        ReasoningDelta("Hm.", block=0),
        ReasoningDelta(signature="sig", block=0),
        BlockEnd(0),
        TextDelta("Hi", 1),
        BlockEnd(1),
        ToolCallStart(0, "t1", "f", 2),
        ToolCallDelta(0, '{"a":1}', 2),
        BlockEnd(2),
        Finish("tool_calls"),
        UsageReport(Usage(input=10, output=9, cache_read=3)),
        End(),
    ]


def test_anthropic_answer_tool_is_content_and_a_plain_stop():
    upstream = [
        anthropic("content_block_start", {"index": 0, "content_block": {"type": "tool_use", "id": "t", "name": "json_response", "input": {}}}),
        anthropic("content_block_delta", {"index": 0, "delta": {"type": "input_json_delta", "partial_json": '{"x":2}'}}),
        anthropic("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {}}),
        anthropic("message_stop", {}),
    ]
    out = run(MessagesEvents(answer_tool="json_response"), upstream)
    assert out[:2] == [MessageStart(), TextDelta('{"x":2}', 0)]
    assert Finish("stop") in out


def test_anthropic_error_event_and_truncation_raise():
    with pytest.raises(GatewayError) as caught:
        run(MessagesEvents(), [anthropic("error", {"error": {"type": "overloaded_error", "message": "busy"}})])
    assert caught.value.status == 529 or caught.value.status >= 500
    with pytest.raises(UpstreamBroken):
        MessagesEvents().close()


def frames(*pieces: bytes) -> list:
    return EventStreamDecoder().feed(b"".join(pieces))


def test_converse_events_with_a_matched_stop_sequence():
    upstream = frames(
        event_frame("messageStart", {"role": "assistant"}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"text": "Hm"}}}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"reasoningContent": {"signature": "s"}}}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 1, "delta": {"reasoningContent": {"redactedContent": "eA=="}}}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 2, "delta": {"text": "Hi"}}),
        event_frame("contentBlockStop", {"contentBlockIndex": 2}),
        event_frame("contentBlockStart", {"contentBlockIndex": 3, "start": {"toolUse": {"toolUseId": "t1", "name": "f"}}}),
        event_frame("contentBlockDelta", {"contentBlockIndex": 3, "delta": {"toolUse": {"input": "{}"}}}),
        event_frame("messageStop", {"stopReason": "stop_sequence", "additionalModelResponseFields": {"stop_sequence": "END"}}),
        event_frame("metadata", {"usage": {"inputTokens": 5, "outputTokens": 2, "cacheReadInputTokens": 1}}),
        event_frame("metadata", {"usage": {"inputTokens": 99}}),
    )
    assert run(ConverseEvents(stop_sequences=("END", "STOP")), upstream) == [
        MessageStart(),
        ReasoningDelta("Hm", "", 0),
        ReasoningDelta("", "s", 0),
        RedactedReasoning("eA==", 1),
        TextDelta("Hi", 2),
        BlockEnd(2),
        ToolCallStart(0, "t1", "f", 3),
        ToolCallDelta(0, "{}", 3),
        Finish("stop_sequence", "END"),
        UsageReport(Usage(input=6, output=2, cache_read=1)),
        End(),
    ]


def test_converse_exception_frame_and_truncation_raise():
    with pytest.raises(GatewayError) as caught:
        run(ConverseEvents(), frames(exception_frame("throttlingException", "slow down")))
    assert caught.value.status == 429
    translator = ConverseEvents()
    run(translator, frames(event_frame("messageStop", {"stopReason": "end_turn"})))
    with pytest.raises(UpstreamBroken, match="before metadata"):
        translator.close()


def gemini(payload: dict) -> Event:
    return Event("message", orjson.dumps(payload).decode())


def test_gemini_events_per_choice_and_usage_at_close():
    translator = GeminiEvents()
    out = run(translator, [
        gemini({"responseId": "r", "modelVersion": "g-1", "candidates": [
            {"index": 0, "content": {"parts": [{"text": "a", "thought": True}, {"text": "b"}]}},
            {"index": 1, "content": {"parts": [{"text": "c"}]}, "finishReason": "MAX_TOKENS"},
        ]}),
        gemini({"candidates": [{"index": 0, "content": {"parts": [{"text": "d"}]}, "finishReason": "STOP"}],
                "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3, "thoughtsTokenCount": 2, "cachedContentTokenCount": 1}}),
    ])
    assert out == [
        MessageStart("chatcmpl-r", "g-1", 0),
        ReasoningDelta("a", choice=0),
        TextDelta("b", choice=0),
        MessageStart("chatcmpl-r", "g-1", 1),
        TextDelta("c", choice=1),
        Finish("length", choice=1),
        TextDelta("d", choice=0),
        Finish("stop", choice=0),
    ]
    assert list(translator.close()) == [UsageReport(Usage(input=4, output=5, cache_read=1, reasoning=2)), End()]


def test_gemini_stream_reports_its_usage_for_the_access_line():
    # A fix: Gemini streams used to leave the access line without usage.
    stream = GeminiStream(model="m", include_usage=False)
    last = {"candidates": [{"content": {"parts": [{"text": "x"}]}, "finishReason": "STOP"}],
            "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 3}}
    stream.feed(b"data: " + orjson.dumps(last) + b"\n\n")
    assert stream.usage is None  # not before the answer is known to be complete
    assert stream.close().endswith(b"data: [DONE]\n\n")
    assert stream.usage == Usage(input=4, output=3)


def test_cohere_stream_reports_its_usage_for_the_access_line():
    from gateway.providers.cohere.stream import ChatStreamTranslator as CohereStream

    stream = CohereStream(model="command-a", include_usage=False)
    events = [
        {"type": "message-start", "id": "c1"},
        {"type": "content-delta", "delta": {"message": {"content": {"text": "Hi"}}}},
        {"type": "message-end", "delta": {"finish_reason": "COMPLETE", "usage": {"billed_units": {"input_tokens": 3, "output_tokens": 2}}}},
    ]
    out = stream.feed(b"".join(b"data: " + orjson.dumps(e) + b"\n\n" for e in events))
    assert b'"content":"Hi"' in out and stream.usage is None
    assert stream.close().endswith(b"data: [DONE]\n\n")
    assert stream.usage == Usage(input=3, output=2)
