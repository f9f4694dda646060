"""Golden tests: Anthropic Message and error JSON → OpenAI chat.completion and errors."""

from __future__ import annotations

import orjson
import pytest

from gateway.providers.anthropic.errors import translate_error
from gateway.providers.anthropic.response import to_chat_completion


def message(content, stop_reason="end_turn", **usage) -> bytes:
    return orjson.dumps(
        {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "claude-sonnet-4-5-20250929",
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5, **usage},
        }
    )


def test_text_answer_with_cache_usage():
    body = message(
        [{"type": "text", "text": "Hello"}, {"type": "text", "text": " world"}],
        cache_read_input_tokens=100,
        cache_creation_input_tokens=20,
    )
    assert to_chat_completion(body, created=1700000000) == {
        "id": "msg_01",
        "object": "chat.completion",
        "created": 1700000000,
        "model": "claude-sonnet-4-5-20250929",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello world", "refusal": None},
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 130,
            "completion_tokens": 5,
            "total_tokens": 135,
            "prompt_tokens_details": {"cached_tokens": 100},
            "cache_read_input_tokens": 100,
            "cache_creation_input_tokens": 20,
        },
    }


def test_tool_use_answer_with_thinking():
    body = message(
        [
            {"type": "thinking", "thinking": "Need weather.", "signature": "sig"},
            {"type": "text", "text": "Checking."},
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris", "days": [1, 2]}},
        ],
        stop_reason="tool_use",
    )
    choice = to_chat_completion(body)["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant",
        "content": "Checking.",
        "refusal": None,
        "reasoning_content": "Need weather.",
        "tool_calls": [
            {
                "id": "toolu_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris","days":[1,2]}'},
            }
        ],
    }


def test_only_tool_use_has_null_content():
    body = message([{"type": "tool_use", "id": "toolu_1", "name": "now", "input": {}}], stop_reason="tool_use")
    reply = to_chat_completion(body)["choices"][0]["message"]
    assert reply["content"] is None
    assert reply["tool_calls"][0]["function"]["arguments"] == "{}"


@pytest.mark.parametrize(
    "stop_reason, finish_reason",
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "stop"),
        (None, "stop"),
    ],
)
def test_finish_reasons(stop_reason, finish_reason):
    body = message([{"type": "text", "text": "x"}], stop_reason=stop_reason)
    assert to_chat_completion(body)["choices"][0]["finish_reason"] == finish_reason


@pytest.mark.parametrize(
    "status, anthropic_type, openai_type",
    [
        (400, "invalid_request_error", "invalid_request_error"),
        (401, "authentication_error", "authentication_error"),
        (404, "not_found_error", "invalid_request_error"),
        (429, "rate_limit_error", "rate_limit_error"),
        (529, "overloaded_error", "api_error"),
    ],
)
def test_error_json_in_openai_shape(status, anthropic_type, openai_type):
    body = orjson.dumps({"type": "error", "error": {"type": anthropic_type, "message": "what went wrong"}})
    assert orjson.loads(translate_error(status, body)) == {
        "error": {"message": "what went wrong", "type": openai_type, "param": None, "code": anthropic_type},
        "status": "failure",
        "message": "what went wrong",
    }


def test_error_that_is_not_json_is_described():
    error = orjson.loads(translate_error(502, b"<html>Bad Gateway</html>"))["error"]
    assert error["message"] == "anthropic answered HTTP 502: <html>Bad Gateway</html>"
    assert error["type"] == "api_error"
