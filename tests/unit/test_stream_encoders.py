"""Encoders alone: neutral events in, bytes out; and the composition's own duties."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError, UpstreamBroken
from gateway.streaming.sse import SSEDecoder
from gateway.translate.anthropic_events import AnthropicEventEncoder
from gateway.translate.events import (
    BlockEnd,
    End,
    Error,
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
from gateway.translate.stream import TranslatedStream
from gateway.usage import Usage

pytestmark = pytest.mark.unit

texts = st.text(min_size=1, max_size=20)


def decode(data: bytes, pieces: list[int] = ()) -> list:
    """Server-sent events back, fed to the decoder in pieces cut at ``pieces``."""
    decoder, events, start = SSEDecoder(), [], 0
    for cut in sorted(pieces) + [len(data)]:
        events += decoder.feed(data[start:cut])
        start = max(start, cut)
    return events


def openai_payloads(data: bytes, pieces: list[int] = ()) -> list:
    return [e.data if e.data == "[DONE]" else orjson.loads(e.data) for e in decode(data, pieces)]


def chunk(delta: dict, *, finish=None, index=0, usage=True, id="c1", model="m") -> dict:
    payload = {"id": id, "object": "chat.completion.chunk", "created": 7, "model": model,
               "choices": [{"index": index, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    if usage:
        payload["usage"] = None
    return payload


def test_openai_encoder_golden_bytes():
    encoder = OpenAIChunkEncoder(model="asked", include_usage=True, created=7, usage_shape=UsageShape(reasoning_detail=True))
    events = [
        MessageStart("c1", "m"), ReasoningDelta("hm"), ReasoningDelta(signature="s"), TextDelta("Hé \"x\"\n"),
        ToolCallStart(0, "t1", "f"), ToolCallDelta(0, '{"a":'), ToolCallDelta(0, "1}"), BlockEnd(0),
        RedactedReasoning("zz"), Finish("stop_sequence"), UsageReport(Usage(input=5, output=3, cache_read=2, reasoning=1)), End(),
    ]
    out = b"".join(encoder.encode(event) for event in events)
    expected = [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "hm"}),
        chunk({"content": "Hé \"x\"\n"}),
        chunk({"tool_calls": [{"index": 0, "id": "t1", "type": "function", "function": {"name": "f", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"a":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({}, finish="stop"),
    ]
    usage = {"prompt_tokens": 5, "completion_tokens": 3, "total_tokens": 8,
             "prompt_tokens_details": {"cached_tokens": 2}, "completion_tokens_details": {"reasoning_tokens": 1}}
    last = {"id": "c1", "object": "chat.completion.chunk", "created": 7, "model": "m", "choices": [], "usage": usage}
    # Byte for byte what orjson writes for the whole objects.
    assert out == b"".join(b"data: " + orjson.dumps(p) + b"\n\n" for p in [*expected, last]) + b"data: [DONE]\n\n"


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.one_of(st.builds(TextDelta, texts), st.builds(ReasoningDelta, texts)), max_size=8),
    texts, texts, st.booleans(), st.integers(min_value=0, max_value=3),
    st.lists(st.integers(min_value=0, max_value=4000), max_size=12),
)
def test_openai_encoder_any_text_any_split(deltas, completion_id, model, include_usage, choice, cuts):
    encoder = OpenAIChunkEncoder(model="asked", include_usage=include_usage, created=7)
    events = [MessageStart(completion_id, model, choice)]
    events += [type(d)(d.text, choice=choice) if isinstance(d, TextDelta) else ReasoningDelta(d.text, choice=choice) for d in deltas]
    events += [Finish("length", choice=choice), End()]
    out = b"".join(encoder.encode(event) for event in events)
    expected = [chunk({"role": "assistant", "content": ""}, index=choice, usage=include_usage, id=completion_id, model=model)]
    expected += [
        chunk({"content" if isinstance(d, TextDelta) else "reasoning_content": d.text},
              index=choice, usage=include_usage, id=completion_id, model=model)
        for d in deltas
    ]
    expected.append(chunk({}, finish="length", index=choice, usage=include_usage, id=completion_id, model=model))
    if include_usage:
        zero = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0, "prompt_tokens_details": {"cached_tokens": 0}}
        expected.append({"id": completion_id, "object": "chat.completion.chunk", "created": 7, "model": model, "choices": [], "usage": zero})
    assert openai_payloads(out, cuts) == [*expected, "[DONE]"]
    assert out == b"".join(b"data: " + orjson.dumps(p) + b"\n\n" for p in expected) + b"data: [DONE]\n\n"


def anthropic_events(data: bytes, pieces: list[int] = ()) -> list:
    events = decode(data, pieces)
    for event in events:
        assert orjson.loads(event.data)["type"] == event.event
    return [(e.event, orjson.loads(e.data)) for e in events]


def test_anthropic_encoder_opens_and_closes_blocks():
    encoder = AnthropicEventEncoder(model="claude", message_id=lambda: "msg_x")
    events = [
        MessageStart(), ReasoningDelta("hm", block=0), ReasoningDelta(signature="s", block=0),
        RedactedReasoning("zz", 1), TextDelta("Hi", 2), TextDelta("!", 2), BlockEnd(2),
        ToolCallStart(0, "t1", "f", 3), ToolCallDelta(0, "{}", 3),
        Finish("stop_sequence", "END"), UsageReport(Usage(input=10, output=4, cache_read=3, cache_write=2)), End(),
    ]
    out = anthropic_events(b"".join(encoder.encode(event) for event in events))
    names = [name for name, _ in out]
    assert names == [
        "message_start",
        "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_start",
        "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop",
        "content_block_start", "content_block_delta",
        "content_block_stop", "content_block_stop", "content_block_stop",
        "message_delta", "message_stop",
    ]
    assert out[0][1]["message"]["id"] == "msg_x" and out[0][1]["message"]["model"] == "claude"
    assert out[6][1] == {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "Hi"}}
    assert out[7][1] == {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "!"}}
    assert out[9][1]["content_block"] == {"type": "tool_use", "id": "t1", "name": "f", "input": {}}
    assert sorted(data["index"] for name, data in out[11:14]) == [0, 1, 3]
    assert out[14][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "stop_sequence", "stop_sequence": "END"},
        "usage": {"input_tokens": 5, "output_tokens": 4, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 3},
    }


@settings(max_examples=100, deadline=None)
@given(st.lists(texts, max_size=8), st.lists(st.integers(min_value=0, max_value=4000), max_size=12))
def test_anthropic_encoder_text_any_split(pieces, cuts):
    encoder = AnthropicEventEncoder(model="claude")
    events = [MessageStart(), *(TextDelta(text, 0) for text in pieces), Finish("length"), End()]
    out = anthropic_events(b"".join(encoder.encode(event) for event in events), cuts)
    text = "".join(d["delta"]["text"] for name, d in out if name == "content_block_delta")
    assert text == "".join(pieces)
    assert out[-2][1]["delta"]["stop_reason"] == "max_tokens"


class Script:
    """A translator that plays a list of neutral events per upstream event."""

    def __init__(self, script: dict[str, list]) -> None:
        self.script = script

    def event(self, upstream):
        return self.script[upstream.data]

    def close(self):
        raise UpstreamBroken("cut short")


def composed(script: dict[str, list], include_usage=False) -> TranslatedStream:
    return TranslatedStream(SSEDecoder(), Script(script), OpenAIChunkEncoder(model="m", include_usage=include_usage))


def test_composition_takes_usage_from_the_usage_event_and_ignores_what_follows_the_end():
    stream = composed({"a": [MessageStart(), TextDelta("x")], "b": [Finish("stop"), UsageReport(Usage(input=1, output=2)), End()],
                       "c": [TextDelta("late")]})
    out = stream.feed(b"data: a\n\n") + stream.feed(b"data: b\n\ndata: c\n\n") + stream.feed(b"data: c\n\n") + stream.close()
    assert stream.usage == Usage(input=1, output=2)
    assert b"late" not in out and out.endswith(b"data: [DONE]\n\n")


def test_composition_sends_text_before_an_error_of_the_same_read():
    boom = GatewayError("upstream says no", status=503)
    stream = composed({"a": [MessageStart(), TextDelta("x")], "e": [Error(boom)]})
    assert b'"content":"x"' in stream.feed(b"data: a\n\ndata: e\n\n")
    with pytest.raises(GatewayError) as caught:
        stream.feed(b"")
    assert caught.value is boom
    with pytest.raises(GatewayError):
        stream.close()
    # With only a start before it, the error comes at once (a status, not a 200).
    stream = composed({"a": [MessageStart()], "e": [Error(boom)]})
    with pytest.raises(GatewayError):
        stream.feed(b"data: a\n\ndata: e\n\n")


def test_composition_without_an_end_is_an_error():
    stream = composed({"a": [MessageStart(), TextDelta("x")]})
    stream.feed(b"data: a\n\n")
    with pytest.raises(UpstreamBroken):
        stream.close()
