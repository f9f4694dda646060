"""Cohere v2 chat response → OpenAI ``chat.completion`` (pure).

``message.content`` blocks: ``text`` → ``content``, ``thinking`` → ``reasoning_content``;
``message.tool_plan`` (the model's plan before calling tools) → ``reasoning_content``
too; ``message.tool_calls`` → ``tool_calls`` (arguments are already a JSON string).
Finish reasons: COMPLETE / STOP_SEQUENCE → ``stop`` (``tool_calls`` when the model
called tools), MAX_TOKENS → ``length``, TOOL_CALL → ``tool_calls``; ERROR and TIMEOUT
mean Cohere failed the answer (a 502). Usage: the billed units (what Cohere charges),
else the raw token counts.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import UpstreamBroken

FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}


def finish_reason(reason: Any, *, called_tools: bool) -> str:
    if reason in ("ERROR", "TIMEOUT") or reason not in FINISH:
        raise UpstreamBroken(f"cohere ended the answer with finish_reason {reason!r}", code="upstream_error")
    mapped = FINISH[reason]
    return "tool_calls" if called_tools and mapped == "stop" else mapped


def openai_usage(usage: Any) -> dict[str, Any]:
    usage = usage if isinstance(usage, Mapping) else {}
    counts = usage.get("billed_units") if isinstance(usage.get("billed_units"), Mapping) else None
    if not counts or not any(isinstance(counts.get(k), int | float) for k in ("input_tokens", "output_tokens")):
        counts = usage.get("tokens") if isinstance(usage.get("tokens"), Mapping) else {}
    prompt, completion = (int(counts.get(k) or 0) for k in ("input_tokens", "output_tokens"))
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def to_chat_completion(body: bytes, model: str) -> dict[str, Any]:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), dict):
        raise UpstreamBroken("cohere answered 2xx with a body that is not a chat response")
    message = answer["message"]
    text, reasoning = [], []
    for block in message.get("content") or ():
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            text.append(block["text"])
        elif isinstance(block, dict) and block.get("type") == "thinking" and isinstance(block.get("thinking"), str):
            reasoning.append(block["thinking"])
    if isinstance(message.get("tool_plan"), str) and message["tool_plan"]:
        reasoning.append(message["tool_plan"])
    calls = [
        {
            "id": call["id"],
            "type": "function",
            "function": {"name": call["function"]["name"], "arguments": call["function"].get("arguments") or "{}"},
        }
        for call in message.get("tool_calls") or ()
        if isinstance(call, dict) and isinstance(call.get("function"), dict)
    ]
    out_message: dict[str, Any] = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if reasoning:
        out_message["reasoning_content"] = "".join(reasoning)
    if calls:
        out_message["tool_calls"] = calls
    return {
        "id": "chatcmpl-" + str(answer.get("id") or ""),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": out_message,
                "logprobs": None,
                "finish_reason": finish_reason(answer.get("finish_reason"), called_tools=bool(calls)),
            }
        ],
        "usage": openai_usage(answer.get("usage")),
    }
