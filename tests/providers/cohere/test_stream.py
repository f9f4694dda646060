"""The Cohere stream translator, sans-IO: events as the fake writes them, split anywhere."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import GatewayError, UpstreamBroken
from gateway.providers.cohere.stream import ChatStreamTranslator
from tests.fakes.cohere import FakeCohere

PARAMS = {
    "model": "command-a-03-2025",
    "messages": [{"role": "user", "content": "Weather in Paris?"}],
    "tools": [{"type": "function", "function": {"name": "get_weather"}}],
}


def wire(events: list[dict]) -> bytes:
    # As Cohere writes them (and a citation event and a future type, which are ignored).
    extra = [{"type": "citation-start", "index": 0}, {"type": "some-future-event"}]
    events = events[:2] + extra + events[2:]
    return b"".join(b"event: " + e["type"].encode() + b"\ndata: " + orjson.dumps(e) + b"\n\n" for e in events)


def scripted(**knobs) -> bytes:
    fake = FakeCohere(**knobs)
    return wire(fake.events(PARAMS))


TEXT = scripted()
TOOLS = scripted(tool_calls=[("call_1", "get_weather", {"city": "Paris"}), ("call_2", "get_weather", {"city": "Oslo"})])


def run(pieces: list[bytes]) -> list[dict]:
    translator = ChatStreamTranslator(model="command-a-03-2025", include_usage=True)
    out = b"".join(translator.feed(piece) for piece in pieces) + translator.close()
    assert out.endswith(b"data: [DONE]\n\n")
    return [orjson.loads(line[6:]) for line in out.split(b"\n\n") if line.startswith(b"data: {")]


def summary(chunks: list[dict]) -> dict:
    text = reasoning = ""
    calls: dict[int, list[str]] = {}
    finish = usage = None
    for chunk in chunks:
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk["choices"]:
            delta = choice["delta"]
            text += delta.get("content") or ""
            reasoning += delta.get("reasoning_content") or ""
            for call in delta.get("tool_calls") or ():
                entry = calls.setdefault(call["index"], [call.get("id"), call["function"].get("name"), ""])
                entry[2] += call["function"].get("arguments") or ""
            finish = choice["finish_reason"] or finish
    return {
        "text": text,
        "reasoning": reasoning,
        "calls": calls,
        "finish": finish,
        "usage": usage,
        "ids": {c["id"] for c in chunks},
    }


def test_text_stream():
    got = summary(run([TEXT]))
    assert got["text"] == "You said: Weather in Paris?" and got["finish"] == "stop"
    assert got["usage"] == {"prompt_tokens": 3, "completion_tokens": 5, "total_tokens": 8}
    assert len(got["ids"]) == 1


def test_tool_stream():
    got = summary(run([TOOLS]))
    assert got["calls"] == {
        0: ["call_1", "get_weather", '{"city":"Paris"}'],
        1: ["call_2", "get_weather", '{"city":"Oslo"}'],
    }
    assert got["reasoning"] == "I will call the tool." and got["finish"] == "tool_calls" and got["text"] == ""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from([TEXT, TOOLS]), st.lists(st.integers(min_value=0, max_value=len(TOOLS)), max_size=30))
def test_any_split_gives_the_same_answer(stream, cuts):
    cuts = sorted({min(cut, len(stream)) for cut in cuts})
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    whole, split = summary(run([stream])), summary(run(pieces))
    whole.pop("ids"), split.pop("ids")
    assert split == whole


@pytest.mark.parametrize("kept", [0, 1, 5])
def test_a_stream_without_message_end_is_an_error(kept):
    events = TEXT.split(b"\n\n")
    translator = ChatStreamTranslator(model="m", include_usage=False)
    translator.feed(b"\n\n".join(events[:kept]) + (b"\n\n" if kept else b""))
    with pytest.raises(UpstreamBroken, match="incomplete"):
        translator.close()


def test_an_error_finish_and_an_error_event_are_errors():
    translator = ChatStreamTranslator(model="m", include_usage=False)
    assert b"Paris?" in translator.feed(scripted(finish_reason="ERROR"))  # the text first
    with pytest.raises(GatewayError, match="ERROR"):
        translator.close()
    translator = ChatStreamTranslator(model="m", include_usage=False)
    first = translator.feed(TEXT.split(b"event: content-delta")[0])
    assert b"assistant" in first
    with pytest.raises(GatewayError, match="overloaded"):
        translator.feed(b'data: {"message": "model overloaded"}\n\n')
