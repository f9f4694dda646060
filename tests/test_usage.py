"""Usage in its five dialects, and read on the side from relayed bytes split anywhere."""

from __future__ import annotations

import json

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.streaming.usage_sniffer import HEAD, TAIL, UsageSniffer, model_in, usage_in
from gateway.usage import Usage

OPENAI_USAGE = {
    "prompt_tokens": 120,
    "completion_tokens": 45,
    "total_tokens": 165,
    "prompt_tokens_details": {"cached_tokens": 100, "audio_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 30, "audio_tokens": 0},
}
OPENAI_EXPECTED = Usage(input=120, output=45, cache_read=100, cache_write=0, reasoning=30)


def chunk_event(delta: dict, usage=None, choices=True) -> bytes:
    event = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "model": "gpt-4o-mini-2024-07-18",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}] if choices else [],
        "usage": usage,
    }
    return b"data: " + orjson.dumps(event) + b"\n\n"


# An OpenAI stream with stream_options.include_usage: "usage": null in every chunk,
# the counts in the last one (no choices), then [DONE].
SSE_WITH_USAGE = (
    chunk_event({"role": "assistant", "content": ""})
    + b"".join(chunk_event({"content": f"word{n} "}) for n in range(40))
    + chunk_event({}, OPENAI_USAGE, choices=False)
    + b"data: [DONE]\n\n"
)


def test_openai_dialect():
    assert Usage.from_any(OPENAI_USAGE) == OPENAI_EXPECTED


def test_responses_api_dialect_counts_cached_inside_input():
    usage = {
        "input_tokens": 50,
        "input_tokens_details": {"cached_tokens": 20},
        "output_tokens": 10,
        "output_tokens_details": {"reasoning_tokens": 4},
        "total_tokens": 60,
    }
    assert Usage.from_any(usage) == Usage(input=50, output=10, cache_read=20, reasoning=4)


def test_anthropic_dialect_adds_cache_counts_to_input():
    usage = {"input_tokens": 10, "cache_read_input_tokens": 200, "cache_creation_input_tokens": 5, "output_tokens": 7}
    assert Usage.from_any(usage) == Usage(input=215, output=7, cache_read=200, cache_write=5)


def test_converse_dialect_adds_cache_counts_to_input():
    usage = {"inputTokens": 30, "outputTokens": 20, "totalTokens": 60, "cacheReadInputTokens": 8, "cacheWriteInputTokens": 2}
    assert Usage.from_any(usage) == Usage(input=40, output=20, cache_read=8, cache_write=2)


def test_nonsense_counts_are_zero():
    assert Usage.from_any({"prompt_tokens": "12", "completion_tokens": True}) == Usage()
    assert Usage.from_any({"something": 1}) is None


def test_whole_json_answer():
    body = orjson.dumps({"id": "x", "model": "m", "choices": [{"message": {"content": "usage"}}], "usage": OPENAI_USAGE})
    assert usage_in(body) == OPENAI_EXPECTED


def test_usage_named_inside_answer_text_is_not_usage():
    # In a JSON string the quotes are escaped: this is text, not a key.
    body = orjson.dumps({"choices": [{"message": {"content": '"usage": {"prompt_tokens": 999}'}}], "usage": None})
    assert usage_in(body) is None


def test_answer_without_usage():
    assert usage_in(chunk_event({"content": "hi"}) + b"data: [DONE]\n\n") is None


def test_model_named_at_the_start():
    assert model_in(SSE_WITH_USAGE[:300]) == "gpt-4o-mini-2024-07-18"
    assert model_in(b'{"error": {"message": "no"}}') is None


def feed_all(parts: list[bytes]) -> tuple[bytes, Usage | None]:
    sniffer = UsageSniffer()
    relayed = b"".join(sniffer.feed(part) for part in parts)
    return relayed, sniffer.usage()


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({0, len(data), *cuts})
    return [data[a:b] for a, b in zip(points, points[1:], strict=False)]


@settings(max_examples=150, deadline=None)  # no per-example deadline on a loaded machine
@given(st.lists(st.integers(0, len(SSE_WITH_USAGE)), max_size=40))
def test_sse_usage_found_however_the_stream_is_split(cuts):
    parts = split_at(SSE_WITH_USAGE, cuts)
    relayed, usage = feed_all(parts)
    assert relayed == SSE_WITH_USAGE  # handed back untouched
    assert usage == OPENAI_EXPECTED


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 3 * TAIL), max_size=30), st.integers(1, 400))
def test_long_stream_keeps_bounded_windows_and_finds_usage_at_both_ends(cuts, words):
    # Anthropic's shape: input counts at the start, cumulative output counts at the end,
    # with far more than two windows of text between them.
    start = b'event: message_start\ndata: {"type":"message_start","message":{"model":"claude","usage":{"input_tokens":25,"cache_read_input_tokens":5,"output_tokens":1}}}\n\n'
    delta = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"%s"}}\n\n'
    end = b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},"usage":{"output_tokens":%d}}\n\nevent: message_stop\ndata: {"type":"message_stop"}\n\n'
    data = start + b"".join(delta % (b"x" * 50) for _ in range(words)) + end % words
    sniffer = UsageSniffer()
    parts = split_at(data, cuts)
    largest = max(map(len, parts))
    for part in parts:
        assert sniffer.feed(part) is part  # the same object: never copied
        # Memory stays bounded: each window holds at most one chunk beyond its size.
        assert sniffer._head_size < HEAD + largest and sniffer._tail_size < TAIL + largest
    assert sniffer.usage() == Usage(input=30, output=words, cache_read=5)


GEMINI_METADATA = {
    "promptTokenCount": 40,
    "candidatesTokenCount": 12,
    "totalTokenCount": 73,
    "cachedContentTokenCount": 16,
    "thoughtsTokenCount": 21,
    "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 40}],
}
GEMINI_EXPECTED = Usage(input=40, output=33, cache_read=16, reasoning=21)


def test_gemini_dialect_counts_thoughts_as_output():
    assert Usage.from_any(GEMINI_METADATA) == GEMINI_EXPECTED


def test_cohere_dialect_prefers_billed_units():
    usage = {"billed_units": {"input_tokens": 5, "output_tokens": 7.0}, "tokens": {"input_tokens": 205, "output_tokens": 9}}
    assert Usage.from_any(usage) == Usage(input=5, output=7)
    assert Usage.from_any({"tokens": {"input_tokens": 205, "output_tokens": 9}}) == Usage(input=205, output=9)


def test_gemini_whole_answer_as_google_pretty_prints_it():
    answer = {
        "candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}, "finishReason": "STOP"}],
        "usageMetadata": GEMINI_METADATA,
        "modelVersion": "gemini-2.5-flash",
    }
    body = json.dumps(answer, indent=2).encode()
    assert usage_in(body) == GEMINI_EXPECTED
    assert model_in(body) == "gemini-2.5-flash"


def gemini_event(text: str, usage: dict) -> bytes:
    event = {
        "candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}],
        "usageMetadata": usage,
        "modelVersion": "gemini-2.5-flash",
    }
    return b"data: " + json.dumps(event, separators=(",", ": ")).encode() + b"\r\n\r\n"


# streamGenerateContent?alt=sse: every event carries usageMetadata, the last one complete.
GEMINI_SSE = b"".join(gemini_event(f"word{n} " * 8, {"promptTokenCount": 40}) for n in range(120)) + gemini_event(
    "", GEMINI_METADATA
)


@given(st.lists(st.integers(min_value=1, max_value=len(GEMINI_SSE) - 1), max_size=30))
@settings(max_examples=60, deadline=None)
def test_gemini_stream_usage_found_however_the_stream_is_split(cuts):
    sniffer = UsageSniffer()
    bounds = [0, *sorted(set(cuts)), len(GEMINI_SSE)]
    for start, end in zip(bounds, bounds[1:], strict=False):
        chunk = GEMINI_SSE[start:end]
        assert sniffer.feed(chunk) is chunk
    assert len(GEMINI_SSE) > HEAD + TAIL  # both windows, with a gap between them
    assert sniffer.usage() == GEMINI_EXPECTED
