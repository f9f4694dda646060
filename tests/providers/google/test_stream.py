"""Gemini SSE → OpenAI chunks: the translator alone, with chunk boundaries fuzzed."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest, GatewayError, UpstreamBroken
from gateway.providers.google.stream import ChatStreamTranslator
from tests.fakes.google import function_call, stream_events, text

WHOLE = {
    "candidates": [
        {
            "content": {
                "role": "model",
                "parts": [
                    text("Thinking it over", thought=True),
                    text("Héllo wörld, ✓ done"),
                    function_call("f", {"a": [1, 2]}, "U0lH"),
                ],
            },
            "finishReason": "STOP",
            "index": 0,
        },
        {"content": {"role": "model", "parts": [text("Second one")]}, "finishReason": "MAX_TOKENS", "index": 1},
    ],
    "usageMetadata": {
        "promptTokenCount": 9,
        "candidatesTokenCount": 11,
        "thoughtsTokenCount": 4,
        "totalTokenCount": 24,
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "resp-1",
}
STREAM = b"".join(b"data: " + orjson.dumps(event) + b"\r\n\r\n" for event in stream_events(WHOLE))


def run(pieces: list[bytes], *, include_usage: bool = True) -> list[dict | str]:
    translator = ChatStreamTranslator(model="gemini-2.5-flash", include_usage=include_usage)
    out = b"".join(translator.feed(piece) for piece in pieces) + translator.close()
    events = []
    for block in out.split(b"\n\n"):
        if block:
            assert block.startswith(b"data: ")
            data = block[6:]
            events.append("[DONE]" if data == b"[DONE]" else orjson.loads(data))
    return events


def summary(events: list[dict | str]) -> dict:
    """What a client makes of the chunks: per choice, text, reasoning, tool calls, finish."""
    choices: dict[int, dict] = {}
    for event in events[:-2]:
        (choice,) = event["choices"]
        seen = choices.setdefault(
            choice["index"], {"text": "", "reasoning": "", "calls": {}, "finish": None, "role": None}
        )
        delta = choice["delta"]
        seen["role"] = seen["role"] or delta.get("role")
        seen["text"] += delta.get("content") or ""
        seen["reasoning"] += delta.get("reasoning_content") or ""
        for call in delta.get("tool_calls") or ():
            entry = seen["calls"].setdefault(call["index"], {"id": call.get("id"), "name": "", "arguments": ""})
            entry["name"] += call.get("function", {}).get("name") or ""
            entry["arguments"] += call.get("function", {}).get("arguments") or ""
        if choice["finish_reason"]:
            assert seen["finish"] is None, "nothing after a finish"
            seen["finish"] = choice["finish_reason"]
    return choices


def test_the_whole_stream():
    events = run([STREAM])
    assert events[-1] == "[DONE]"
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == [] and usage_chunk["usage"] == {
        "prompt_tokens": 9,
        "completion_tokens": 15,
        "total_tokens": 24,
        "prompt_tokens_details": {"cached_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 4},
    }
    assert {e["id"] for e in events[:-1]} == {"chatcmpl-resp-1"}
    assert len({e["created"] for e in events[:-1]}) == 1
    assert all(e["usage"] is None for e in events[:-2])
    choices = summary(events)
    assert choices[0]["role"] == choices[1]["role"] == "assistant"
    assert choices[0]["text"] == "Héllo wörld, ✓ done" and choices[0]["reasoning"] == "Thinking it over"
    (call,) = choices[0]["calls"].values()
    assert call["name"] == "f" and orjson.loads(call["arguments"]) == {"a": [1, 2]} and call["id"].endswith(".sig.U0lH")
    assert (choices[0]["finish"], choices[1]["finish"]) == ("tool_calls", "length")
    assert choices[1]["text"] == "Second one"


def test_without_include_usage_there_is_no_usage_chunk():
    events = run([STREAM], include_usage=False)
    assert events[-1] == "[DONE]" and all("usage" not in e for e in events[:-1])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=30))
def test_any_split_gives_the_same_answer(cuts):
    points = sorted(set(cuts))
    pieces = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)], strict=True)]
    expected = summary(run([STREAM]))
    got = summary(run(pieces))
    for choice in (expected, got):
        for seen in choice.values():
            for call in seen["calls"].values():
                call["id"] = "call"  # generated per run
    assert got == expected


def test_an_error_event_first_is_raised_with_its_status():
    translator = ChatStreamTranslator(model="m", include_usage=False)
    error = {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}
    with pytest.raises(GatewayError) as caught:
        translator.feed(b"data: " + orjson.dumps(error) + b"\r\n\r\n")
    assert (caught.value.status, caught.value.type, caught.value.code) == (
        429,
        "rate_limit_error",
        "resource_exhausted",
    )


def test_text_before_an_error_in_the_same_read_goes_out_first():
    events = stream_events(WHOLE)
    error = {"error": {"code": 503, "message": "overloaded", "status": "UNAVAILABLE"}}
    data = b"".join(b"data: " + orjson.dumps(e) + b"\r\n\r\n" for e in [*events[:3], error])
    translator = ChatStreamTranslator(model="m", include_usage=False)
    out = translator.feed(data)
    assert b"Thinking" in out
    with pytest.raises(GatewayError) as caught:
        translator.feed(b"")
    assert caught.value.status == 503


def test_a_blocked_prompt_in_a_stream_is_a_400():
    translator = ChatStreamTranslator(model="m", include_usage=False)
    blocked = {"promptFeedback": {"blockReason": "SAFETY"}, "usageMetadata": {"promptTokenCount": 3}}
    with pytest.raises(BadRequest):
        translator.feed(b"data: " + orjson.dumps(blocked) + b"\n\n")


@pytest.mark.parametrize("kept", [1, 4, -1])
def test_a_stream_that_ends_before_every_finish_is_an_error(kept):
    # 1 and 4: the first candidate is unfinished; -1: the second began and never finished.
    translator = ChatStreamTranslator(model="m", include_usage=True)
    for event in stream_events(WHOLE)[:kept]:
        translator.feed(b"data: " + orjson.dumps(event) + b"\r\n\r\n")
    with pytest.raises(UpstreamBroken) as caught:
        translator.close()
    assert caught.value.code == "upstream_stream_truncated"


def test_an_empty_stream_and_broken_events_are_errors():
    with pytest.raises(UpstreamBroken):
        ChatStreamTranslator(model="m", include_usage=False).close()
    for data in (b"data: {not json\n\n", b"data: [1]\n\n"):
        with pytest.raises(UpstreamBroken):
            ChatStreamTranslator(model="m", include_usage=False).feed(data)
