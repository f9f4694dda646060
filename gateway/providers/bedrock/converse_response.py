"""Bedrock Converse answer → OpenAI ``chat.completion`` (and the pieces streams share).

With ``answer_tool`` (the tool standing in for ``response_format``), a call to that
tool is the answer: its input becomes the message content (text blocks left out, so
the content is exactly the requested JSON), and a reply that only called it
finishes with ``stop``.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import UpstreamBroken

# Converse stopReason → OpenAI finish_reason.
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def answer_finish(stop_reason: str | None, *, answered: bool, called_client_tools: bool) -> str:
    if stop_reason == "tool_use" and answered and not called_client_tools:
        return "stop"
    return finish_reason(stop_reason)


def neutral_finish(stop_reason: str | None, *, answered: bool, called_client_tools: bool) -> str:
    """The neutral finish reason (:mod:`gateway.translate.events`): OpenAI's, with
    ``stop_sequence`` kept apart."""
    if stop_reason == "stop_sequence":
        return "stop_sequence"
    return answer_finish(stop_reason, answered=answered, called_client_tools=called_client_tools)


def openai_usage(usage: Mapping[str, Any] | None) -> dict[str, Any]:
    """Converse usage → OpenAI usage. Bedrock's ``inputTokens`` leaves cached tokens out;
    OpenAI's ``prompt_tokens`` counts every prompt token, cached ones included."""
    usage = usage or {}
    cache_read = usage.get("cacheReadInputTokens") or 0
    cache_write = usage.get("cacheWriteInputTokens") or 0
    prompt = (usage.get("inputTokens") or 0) + cache_read + cache_write
    completion = usage.get("outputTokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read, "cache_write_tokens": cache_write},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def parse_json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamBroken(f"bedrock sent a {what} that is not a JSON object", code="upstream_bad_response")
    return parsed


def converse_to_chat(body: bytes, model: str, answer_tool: str | None = None) -> bytes:
    answer = parse_json_object(body, "Converse answer")
    content = ((answer.get("output") or {}).get("message") or {}).get("content") or []
    texts: list[str] = []
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    answers: list[str] = []
    for block in content:
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block and answer_tool is not None and block["toolUse"].get("name") == answer_tool:
            answers.append(orjson.dumps(block["toolUse"].get("input", {})).decode())
        elif "toolUse" in block:
            use = block["toolUse"]
            tool_calls.append(
                {
                    "id": use.get("toolUseId"),
                    "type": "function",
                    "function": {"name": use.get("name"), "arguments": orjson.dumps(use.get("input", {})).decode()},
                }
            )
        elif "reasoningContent" in block:
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
            if text:
                reasoning.append(text)
    if answers:
        texts = answers
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts else None, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    completion = {
        "id": "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": answer_finish(answer.get("stopReason"), answered=bool(answers), called_client_tools=bool(tool_calls))}
        ],
        "usage": openai_usage(answer.get("usage")),
    }
    return orjson.dumps(completion)
