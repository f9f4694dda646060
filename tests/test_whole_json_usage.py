"""Usage and model of a whole JSON answer, read with one parse (usage_sniffer.whole_json_answer)."""

from __future__ import annotations

import orjson

from gateway.streaming.usage_sniffer import WHOLE_JSON_PARSED, whole_json_answer
from gateway.usage import Usage

OPENAI = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}


def test_an_openai_answer():
    body = orjson.dumps({"id": "x", "model": "gpt-4o-mini-2024-07-18", "choices": [], "usage": OPENAI})
    assert whole_json_answer(body) == (Usage(12, 9), "gpt-4o-mini-2024-07-18")


def test_openai_details_are_read():
    usage = {
        **OPENAI,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    body = orjson.dumps({"model": "o3", "usage": usage})
    assert whole_json_answer(body) == (Usage(12, 9, cache_read=4, reasoning=2), "o3")
    for name, expected in (
        ("prompt_tokens_details", Usage(12, 9, cache_read=4)),
        ("completion_tokens_details", Usage(12, 9, reasoning=2)),
    ):
        body = orjson.dumps({"model": "o3", "usage": {**OPENAI, name: usage[name]}})
        assert whole_json_answer(body) == (expected, "o3")


def test_gemini_names_its_counts_and_model_otherwise():
    body = orjson.dumps(
        {
            "candidates": [],
            "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3},
            "modelVersion": "gemini-2.0",
        },
        option=orjson.OPT_INDENT_2,
    )
    assert whole_json_answer(body) == (Usage(7, 3), "gemini-2.0")


def test_a_large_answer_is_searched_not_parsed():
    body = orjson.dumps({"model": "m", "data": ["x" * WHOLE_JSON_PARSED], "usage": OPENAI})
    assert whole_json_answer(body) == (Usage(12, 9), "m")


def test_not_json_or_no_usage_at_the_top():
    assert whole_json_answer(b'{"model": "m", "usage": {"prompt_tokens": 2, "completion_tokens": 1}') == (
        Usage(2, 1),
        "m",
    )
    assert whole_json_answer(b'{"response": {"model": "r", "usage": {"input_tokens": 1, "output_tokens": 2}}}') == (
        Usage(1, 2),
        "r",
    )
    assert whole_json_answer(b'{"error": {"message": "no"}}') == (None, None)
