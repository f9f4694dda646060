"""Neutral events of a whole answer → one Anthropic Messages ``message`` object
(``/v1/messages`` answered by a provider that speaks another protocol).

Blocks follow the events' ``block`` numbers in order of first appearance: text,
thinking (with its signature), redacted thinking, tool use (its argument pieces
joined and parsed back to the ``input`` object).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from typing import Any

import orjson

from ..usage import Usage
from .anthropic_events import STOP_REASONS, anthropic_usage
from .events import (
    Finish,
    MessageStart,
    ReasoningDelta,
    RedactedReasoning,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)


def build_message(
    events: Iterable[Any],
    *,
    model: str,
    message_id: Callable[[], str] = lambda: "msg_" + uuid.uuid4().hex[:24],
) -> dict[str, Any]:
    blocks: dict[Any, dict[str, Any]] = {}
    arguments: dict[Any, list[str]] = {}
    finish = Finish("stop")
    usage = Usage()
    answer_id: str | None = None
    for event in events:
        kind = type(event)
        if kind is TextDelta:
            block = blocks.setdefault(event.block, {"type": "text", "text": ""})
            block["text"] += event.text
        elif kind is ReasoningDelta:
            block = blocks.setdefault(event.block, {"type": "thinking", "thinking": "", "signature": ""})
            block["thinking"] += event.text
            block["signature"] += event.signature
        elif kind is RedactedReasoning:
            blocks[event.block] = {"type": "redacted_thinking", "data": event.data}
        elif kind is ToolCallStart:
            blocks[event.block] = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
            arguments[event.block] = []
        elif kind is ToolCallDelta:
            arguments[event.block].append(event.arguments)
        elif kind is Finish:
            finish = event
        elif kind is UsageReport:
            usage = event.usage
        elif kind is MessageStart:
            answer_id = answer_id or event.id
            model = event.model or model
    for block, pieces in arguments.items():
        text = "".join(pieces)
        blocks[block]["input"] = orjson.loads(text) if text else {}
    return {
        "id": answer_id or message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": list(blocks.values()),
        "stop_reason": STOP_REASONS.get(finish.reason, "end_turn"),
        "stop_sequence": finish.stop_sequence,
        "usage": anthropic_usage(usage),
    }
