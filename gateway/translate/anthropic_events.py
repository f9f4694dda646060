"""Neutral events → Anthropic Messages named server-sent events (for ``/v1/messages``).

``message_start`` goes out with the first event; a content block opens
(``content_block_start``) at its first event and closes at :class:`~.events.BlockEnd`
or at the finish; ``message_delta`` (stop reason, matched stop sequence, usage) and
``message_stop`` go out at :class:`~.events.End`, when the usage is known. The
gateway's errors are told in Anthropic's shape (``shape_error``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from ..errors import GatewayError
from ..usage import Usage
from .events import (
    BlockEnd,
    End,
    Error,
    Finish,
    MessageStart,
    ReasoningDelta,
    RedactedReasoning,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)

# Neutral finish reasons → Anthropic stop reasons.
STOP_REASONS = {
    "stop": "end_turn",
    "stop_sequence": "stop_sequence",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}


_TEXT_DELTA = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
_TEXT_DELTA_TEXT = b',"delta":{"type":"text_delta","text":'


def named_event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **payload}) + b"\n\n"


def anthropic_usage(usage: Usage) -> dict[str, int]:
    """Anthropic counts cached input apart from ``input_tokens``."""
    return {
        "input_tokens": usage.input - usage.cache_read - usage.cache_write,
        "output_tokens": usage.output,
        "cache_creation_input_tokens": usage.cache_write,
        "cache_read_input_tokens": usage.cache_read,
    }


class AnthropicEventEncoder:
    def __init__(
        self,
        *,
        model: str,
        message_id: Callable[[], str] = lambda: "msg_" + uuid.uuid4().hex[:24],
        shape_error: Callable[[GatewayError], GatewayError] = lambda error: error,
    ) -> None:
        self._model = model
        self._message_id = message_id
        self._shape_error = shape_error
        self._started = False
        self._blocks: dict[int, int] = {}  # upstream block → our index
        self._open: set[int] = set()
        self._finish: Finish | None = None
        self._usage = Usage()
        # Event type → its encoding (the composition looks it up: one call per event).
        self.handlers: dict[type, Callable[[Any], bytes]] = {
            MessageStart: self._start,
            TextDelta: self._text,
            ReasoningDelta: self._reasoning,
            RedactedReasoning: self._redacted,
            ToolCallStart: self._tool_start,
            ToolCallDelta: self._tool_arguments,
            BlockEnd: self._block_end,
            Finish: self._finished,
            UsageReport: self._remember_usage,
            End: self._end,
            Error: lambda event: b"",
        }

    def encode(self, event: Any) -> bytes:
        return self.handlers[type(event)](event)

    def shaped(self, error: GatewayError) -> GatewayError:
        return self._shape_error(error)

    def _start(self, event: MessageStart | None = None) -> bytes:
        if self._started:
            return b""
        self._started = True
        message = {
            "id": (event.id if event else None) or self._message_id(),
            "type": "message",
            "role": "assistant",
            "model": (event.model if event else None) or self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # The usage is known at the end; message_delta carries it.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return named_event("message_start", {"message": message})

    def _open_block(self, block: int, content: dict[str, Any]) -> bytes:
        index = len(self._blocks)
        self._blocks[block] = index
        self._open.add(block)
        return named_event("content_block_start", {"index": index, "content_block": content})

    def _block_delta(self, block: int, delta: dict[str, Any]) -> bytes:
        return named_event("content_block_delta", {"index": self._blocks[block], "delta": delta})

    def _text(self, event: TextDelta) -> bytes:
        index = self._blocks.get(event.block)
        if index is not None and self._started:  # the hot path, written as orjson would
            return _TEXT_DELTA + str(index).encode() + _TEXT_DELTA_TEXT + orjson.dumps(event.text) + b"}}\n\n"
        out = self._start()
        if event.block not in self._blocks:
            out += self._open_block(event.block, {"type": "text", "text": ""})
        return out + self._block_delta(event.block, {"type": "text_delta", "text": event.text})

    def _reasoning(self, event: ReasoningDelta) -> bytes:
        out = self._start()
        if event.block not in self._blocks:
            out += self._open_block(event.block, {"type": "thinking", "thinking": "", "signature": ""})
        if event.text:
            out += self._block_delta(event.block, {"type": "thinking_delta", "thinking": event.text})
        if event.signature:
            out += self._block_delta(event.block, {"type": "signature_delta", "signature": event.signature})
        return out

    def _redacted(self, event: RedactedReasoning) -> bytes:
        # Redacted thinking comes whole: a block that opens here and closes at its end.
        return self._start() + self._open_block(event.block, {"type": "redacted_thinking", "data": event.data})

    def _tool_start(self, event: ToolCallStart) -> bytes:
        block = {"type": "tool_use", "id": event.id, "name": event.name, "input": {}}
        return self._start() + self._open_block(event.block, block)

    def _tool_arguments(self, event: ToolCallDelta) -> bytes:
        return self._start() + self._block_delta(event.block, {"type": "input_json_delta", "partial_json": event.arguments})

    def _block_end(self, event: BlockEnd) -> bytes:
        if event.block not in self._open:
            return b""
        self._open.discard(event.block)
        return named_event("content_block_stop", {"index": self._blocks[event.block]})

    def _finished(self, event: Finish) -> bytes:
        self._finish = event
        out = self._start()
        for block in list(self._open):
            out += self._block_end(BlockEnd(block))
        return out

    def _remember_usage(self, event: UsageReport) -> bytes:
        self._usage = event.usage
        return b""

    def _end(self, event: End) -> bytes:
        finish = self._finish or Finish("stop")
        delta = {
            "delta": {"stop_reason": STOP_REASONS.get(finish.reason, "end_turn"), "stop_sequence": finish.stop_sequence},
            "usage": anthropic_usage(self._usage),
        }
        return self._start() + named_event("message_delta", delta) + named_event("message_stop", {})
