"""Cohere v2 chat response → neutral events → OpenAI ``chat.completion`` (pure).

``message.content`` blocks: ``text`` → ``content``, ``thinking`` → ``reasoning_content``;
``message.tool_plan`` (the model's plan before calling tools) → ``reasoning_content``
too; ``message.tool_calls`` → ``tool_calls`` (arguments are already a JSON string).
Finish reasons: COMPLETE / STOP_SEQUENCE → ``stop`` (``tool_calls`` when the model
called tools), MAX_TOKENS → ``length``, TOOL_CALL → ``tool_calls``; ERROR and TIMEOUT
mean Cohere failed the answer (a 502). Usage: the billed units (what Cohere charges),
else the raw token counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import UpstreamBroken
from ...translate.chat_completion import build_chat_completion
from ...translate.events import (
    Finish,
    MessageStart,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)
from ...translate.openai_chunks import UsageShape
from ...usage import Usage

FINISH = {"COMPLETE": "stop", "STOP_SEQUENCE": "stop", "MAX_TOKENS": "length", "TOOL_CALL": "tool_calls"}


def finish_reason(reason: Any, *, called_tools: bool) -> str:
    if reason in ("ERROR", "TIMEOUT") or reason not in FINISH:
        raise UpstreamBroken(f"cohere ended the answer with finish_reason {reason!r}", code="upstream_error")
    mapped = FINISH[reason]
    return "tool_calls" if called_tools and mapped == "stop" else mapped


# The usage object this provider's OpenAI answers carry: the three totals only.
USAGE_SHAPE = UsageShape(cached_detail=False)


def cohere_usage(usage: Any) -> Usage:
    """Cohere's usage: the billed units (what Cohere charges), else the raw token counts."""
    return Usage.from_cohere(usage if isinstance(usage, Mapping) else {})


def answer_events(answer: Mapping[str, Any]) -> list[Any]:
    """A whole Cohere answer → the neutral events of :mod:`gateway.translate.events`."""
    message = answer["message"]
    events: list[Any] = [MessageStart("chatcmpl-" + str(answer.get("id") or ""))]
    texts = [
        block["text"] for block in message.get("content") or ()
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    ]
    for block in message.get("content") or ():
        if isinstance(block, dict) and block.get("type") == "thinking" and isinstance(block.get("thinking"), str):
            events.append(ReasoningDelta(block["thinking"]))
    if isinstance(message.get("tool_plan"), str) and message["tool_plan"]:
        events.append(ReasoningDelta(message["tool_plan"]))
    calls = [
        call for call in message.get("tool_calls") or ()
        if isinstance(call, dict) and isinstance(call.get("function"), dict)
    ]
    for index, call in enumerate(calls):
        events.append(ToolCallStart(index, call["id"], call["function"]["name"]))
        events.append(ToolCallDelta(index, call["function"].get("arguments") or "{}"))
    if texts or not calls:  # no text at all is "" unless the answer is tool calls
        events.append(TextDelta("".join(texts)))
    events.append(Finish(finish_reason(answer.get("finish_reason"), called_tools=bool(calls))))
    events.append(UsageReport(cohere_usage(answer.get("usage"))))
    return events


def to_chat_completion(body: bytes, model: str) -> dict[str, Any]:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("message"), dict):
        raise UpstreamBroken("cohere answered 2xx with a body that is not a chat response")
    return build_chat_completion(answer_events(answer), model=model, usage_shape=USAGE_SHAPE)
