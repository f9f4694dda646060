"""Gemini answers and errors → OpenAI's format: units, no network."""

from __future__ import annotations

import orjson
import pytest

from gateway.errors import BadRequest, UpstreamBroken
from gateway.providers.google.errors import translate_error
from gateway.providers.google.response import to_chat_completion
from gateway.providers.google.tool_ids import signature_of


def answer(**fields) -> bytes:
    return orjson.dumps({"modelVersion": "gemini-2.5-pro", "responseId": "r1", **fields})


def candidate(parts, finish="STOP", index=0) -> dict:
    return {"content": {"role": "model", "parts": parts}, "finishReason": finish, "index": index}


def test_text_thoughts_and_usage():
    body = answer(
        candidates=[candidate([{"text": "Let me think", "thought": True}, {"text": "Hello"}, {"text": " world"}])],
        usageMetadata={
            "promptTokenCount": 20,
            "cachedContentTokenCount": 8,
            "candidatesTokenCount": 5,
            "thoughtsTokenCount": 7,
            "totalTokenCount": 32,
        },
    )
    completion = to_chat_completion(body, model="gemini-2.5-pro", created=1)
    assert completion == {
        "id": "chatcmpl-r1",
        "object": "chat.completion",
        "created": 1,
        "model": "gemini-2.5-pro",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": "Hello world",
                    "refusal": None,
                    "reasoning_content": "Let me think",
                },
                "logprobs": None,
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": 20,
            "completion_tokens": 12,
            "total_tokens": 32,
            "prompt_tokens_details": {"cached_tokens": 8},
            "completion_tokens_details": {"reasoning_tokens": 7},
        },
    }


def test_function_calls_get_ids_and_keep_their_signature():
    body = answer(
        candidates=[
            candidate(
                [
                    {"functionCall": {"name": "f", "args": {"x": 1}}, "thoughtSignature": "U0lH"},
                    {"functionCall": {"name": "g"}},
                ]
            )
        ]
    )
    message = to_chat_completion(body, model="m")["choices"][0]["message"]
    first, second = message["tool_calls"]
    assert (first["function"], second["function"]) == (
        {"name": "f", "arguments": '{"x":1}'},
        {"name": "g", "arguments": "{}"},
    )
    assert first["id"].startswith("call_") and signature_of(first["id"]) == "U0lH"
    assert signature_of(second["id"]) is None and message["content"] is None
    assert to_chat_completion(body, model="m")["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize(
    "gemini, openai",
    [
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("BLOCKLIST", "content_filter"),
        ("PROHIBITED_CONTENT", "content_filter"),
        ("SPII", "content_filter"),
        ("OTHER", "stop"),
        ("MALFORMED_FUNCTION_CALL", "stop"),
    ],
)
def test_finish_reasons(gemini, openai):
    body = answer(candidates=[{"finishReason": gemini, "index": 0}])
    choice = to_chat_completion(body, model="m")["choices"][0]
    assert choice["finish_reason"] == openai and choice["message"]["content"] is None


def test_a_tool_call_cut_by_max_tokens_finishes_with_length_not_tool_calls():
    # Its arguments may be cut short: a client must not run it as a finished call.
    body = answer(candidates=[candidate([{"functionCall": {"name": "f", "args": {"x": 1}}}], finish="MAX_TOKENS")])
    assert to_chat_completion(body, model="m")["choices"][0]["finish_reason"] == "length"


def test_several_candidates_are_several_choices_in_order():
    body = answer(
        candidates=[candidate([{"text": "B"}], index=1), candidate([{"text": "A"}], finish="MAX_TOKENS", index=0)]
    )
    choices = to_chat_completion(body, model="m")["choices"]
    assert [(c["index"], c["message"]["content"], c["finish_reason"]) for c in choices] == [
        (0, "A", "length"),
        (1, "B", "stop"),
    ]


def test_a_blocked_prompt_is_a_400_and_a_broken_body_a_502():
    with pytest.raises(BadRequest) as caught:
        to_chat_completion(answer(promptFeedback={"blockReason": "PROHIBITED_CONTENT"}), model="m")
    assert caught.value.code == "prompt_blocked" and "PROHIBITED_CONTENT" in caught.value.message
    for broken in (b"<html>", b"[]", answer()):
        with pytest.raises(UpstreamBroken):
            to_chat_completion(broken, model="m")


@pytest.mark.parametrize(
    "status, google_status, openai_type",
    [
        (400, "INVALID_ARGUMENT", "invalid_request_error"),
        (400, "FAILED_PRECONDITION", "invalid_request_error"),
        (403, "PERMISSION_DENIED", "permission_error"),
        (404, "NOT_FOUND", "invalid_request_error"),
        (429, "RESOURCE_EXHAUSTED", "rate_limit_error"),
        (500, "INTERNAL", "api_error"),
        (503, "UNAVAILABLE", "api_error"),
        (504, "DEADLINE_EXCEEDED", "timeout_error"),
    ],
)
def test_errors_keep_status_and_message(status, google_status, openai_type):
    body = orjson.dumps({"error": {"code": status, "message": "why", "status": google_status, "details": []}})
    translated = orjson.loads(translate_error(status, body))
    assert translated["error"] == {"message": "why", "type": openai_type, "param": None, "code": google_status.lower()}
    assert translated["status"] == "failure"


def test_an_error_that_is_not_googles_json():
    translated = orjson.loads(translate_error(502, b"<html>Bad Gateway</html>"))
    assert translated["error"]["message"] == "google answered HTTP 502: <html>Bad Gateway</html>"
    assert translated["error"]["type"] == "api_error"
    wrapped = orjson.dumps([{"error": {"code": 429, "message": "slow down", "status": "RESOURCE_EXHAUSTED"}}])
    error = orjson.loads(translate_error(429, wrapped))["error"]
    assert (error["type"], error["message"], error["code"]) == ("rate_limit_error", "slow down", "resource_exhausted")
