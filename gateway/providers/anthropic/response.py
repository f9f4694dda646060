"""Anthropic Messages response → neutral events → OpenAI ``chat.completion`` (pure).

Shared with the stream translator: the stop-reason mapping and the usage shape.

With ``answer_tool`` (the tool standing in for ``response_format``), a call to that
tool is the answer: its input becomes the message content, and text blocks are left
out so that the content is exactly the requested JSON; a reply that only called it
finishes with ``stop``, not ``tool_calls``.
"""

from __future__ import annotations

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

# The usage object this provider's OpenAI answers carry (Anthropic's cache names too).
USAGE_SHAPE = UsageShape(anthropic_cache_names=True)

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


def message_events(body: bytes, *, answer_tool: str | None = None) -> list[Any]:
    """A whole Messages response → the neutral events of :mod:`gateway.translate.events`."""
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError:
        message = None
    if not isinstance(message, dict) or not isinstance(message.get("content"), list):
        raise UpstreamBroken("anthropic answered 2xx with a body that is not a Messages response")
    blocks = [block for block in message["content"] if isinstance(block, dict)]
    answers = [
        block for block in blocks
        if block.get("type") == "tool_use" and answer_tool is not None and block.get("name") == answer_tool
    ]
    events: list[Any] = [MessageStart(message.get("id"), message.get("model"))]
    calls = 0
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_use" and answer_tool is not None and block.get("name") == answer_tool:
            events.append(TextDelta(orjson.dumps(block.get("input", {})).decode()))
        elif kind == "text" and not answers:
            events.append(TextDelta(block.get("text", "")))
        elif kind == "thinking":
            events.append(ReasoningDelta(block.get("thinking", ""), block.get("signature") or ""))
        elif kind == "tool_use":
            events.append(ToolCallStart(calls, block.get("id"), block.get("name")))
            events.append(ToolCallDelta(calls, orjson.dumps(block.get("input", {})).decode()))
            calls += 1
        # redacted_thinking and server-tool blocks have no OpenAI counterpart.
    reason = answer_finish(message.get("stop_reason"), answered=bool(answers), called_client_tools=calls > 0)
    events.append(Finish(reason))
    events.append(UsageReport(Usage.from_anthropic(message.get("usage") or {})))
    return events


def to_chat_completion(body: bytes, *, created: int | None = None, answer_tool: str | None = None) -> dict[str, Any]:
    return build_chat_completion(
        message_events(body, answer_tool=answer_tool), model=None, usage_shape=USAGE_SHAPE, created=created
    )
