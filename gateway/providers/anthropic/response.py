"""Anthropic Messages response → OpenAI ``chat.completion`` (pure).

Shared with the stream translator: the stop-reason mapping and the usage object.

With ``answer_tool`` (the tool standing in for ``response_format``), a call to that
tool is the answer: its input becomes the message content, and text blocks are left
out so that the content is exactly the requested JSON; a reply that only called it
finishes with ``stop``, not ``tool_calls``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import UpstreamBroken

# Anthropic stop_reason → OpenAI finish_reason. pause_turn (a server tool paused a
# long turn) ends this answer normally; refusal is what content_filter means.
FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "end_turn", "stop")


def answer_finish(stop_reason: str | None, *, answered: bool, called_client_tools: bool) -> str:
    """The finish reason, where a call to the answer tool alone is a plain answer."""
    if stop_reason == "tool_use" and answered and not called_client_tools:
        return "stop"
    return finish_reason(stop_reason)


def openai_usage(usage: Mapping[str, Any]) -> dict[str, Any]:
    """OpenAI counts cached input inside prompt_tokens; Anthropic counts it apart.

    The cache counts are also kept under Anthropic's own names, because writing to
    the cache is billed differently from reading it.
    """
    fresh = usage.get("input_tokens") or 0
    cache_read = usage.get("cache_read_input_tokens") or 0
    cache_write = usage.get("cache_creation_input_tokens") or 0
    prompt = fresh + cache_read + cache_write
    completion = usage.get("output_tokens") or 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cache_read},
        "cache_read_input_tokens": cache_read,
        "cache_creation_input_tokens": cache_write,
    }


def to_chat_completion(body: bytes, *, created: int | None = None, answer_tool: str | None = None) -> dict[str, Any]:
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise UpstreamBroken("anthropic answered 2xx with a body that is not a Messages response")
    texts: list[str] = []
    thinking: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    answers: list[str] = []
    for block in message["content"]:
        kind = block.get("type")
        if kind == "tool_use" and answer_tool is not None and block.get("name") == answer_tool:
            answers.append(orjson.dumps(block.get("input", {})).decode())
        elif kind == "text":
            texts.append(block.get("text", ""))
        elif kind == "thinking":
            thinking.append(block.get("thinking", ""))
        elif kind == "tool_use":
            tool_calls.append(
                {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {
                        "name": block.get("name"),
                        "arguments": orjson.dumps(block.get("input", {})).decode(),
                    },
                }
            )
        # redacted_thinking and server-tool blocks have no OpenAI counterpart.
    if answers:
        texts = answers
    reply: dict[str, Any] = {
        "role": "assistant",
        "content": "".join(texts) if texts else None,
        "refusal": None,
    }
    if thinking:
        reply["reasoning_content"] = "".join(thinking)
    if tool_calls:
        reply["tool_calls"] = tool_calls
    return {
        "id": message.get("id"),
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": message.get("model"),
        "choices": [
            {
                "index": 0,
                "message": reply,
                "logprobs": None,
                "finish_reason": answer_finish(message.get("stop_reason"), answered=bool(answers), called_client_tools=bool(tool_calls)),
            }
        ],
        "usage": openai_usage(message.get("usage") or {}),
    }
