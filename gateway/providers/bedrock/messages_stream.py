"""ConverseStream event frames → Anthropic Messages named SSE events, incrementally.

Converse sends no start event for text or reasoning blocks, so a block is opened
(``content_block_start``) by its first delta. ``message_delta`` needs the usage, which
Converse sends in ``metadata`` after ``messageStop``; it and ``message_stop`` go out
then, with the matched stop sequence that ``messageStop`` carries in its
``additionalModelResponseFields``. Errors (exception frames, a truncated stream) are raised in Anthropic's shape,
so the relay ends the stream with an ``event: error`` as Anthropic does.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError, UpstreamBroken
from ...streaming.eventstream import EventStreamDecoder
from ...usage import Usage
from .converse_stream import event_of
from .errors import AnthropicShapedError
from .messages import anthropic_usage, matched_stop_sequence, message_id, stop_reason


def named_event(name: str, payload: dict[str, Any]) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **payload}) + b"\n\n"


class ConverseMessagesStream:
    def __init__(self, model: str, stop_sequences: tuple[str, ...] = ()) -> None:
        self._decoder = EventStreamDecoder()
        self._model = model
        self._stop_sequences = stop_sequences
        self._stop_sequence: str | None = None
        self._started = False
        self._blocks: dict[int, tuple[int, str]] = {}  # contentBlockIndex → (our index, kind)
        self._open: set[int] = set()
        self._stop_reason: str | None = None
        self._done = False
        # The answer's token usage, once metadata has come (for the access log).
        self.usage: Usage | None = None

    def feed(self, data: bytes) -> bytes:
        try:
            return b"".join(self._event(*event_of(frame)) for frame in self._decoder.feed(data))
        except GatewayError as exc:
            raise AnthropicShapedError(exc) from None

    def close(self) -> bytes:
        try:
            self._decoder.close()
            if not self._done:
                missing = "metadata" if self._stop_reason else "messageStop"
                raise UpstreamBroken(
                    f"bedrock stream ended before {missing}: the answer is incomplete", code="upstream_truncated"
                )
        except GatewayError as exc:
            raise AnthropicShapedError(exc) from None
        return b""

    def _event(self, name: str, payload: dict[str, Any]) -> bytes:
        if self._done:
            return b""
        if name == "messageStart":
            return self._message_start()
        if name == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if use is None:
                return b""
            block = {"type": "tool_use", "id": use.get("toolUseId"), "name": use.get("name"), "input": {}}
            return self._message_start() + self._open_block(payload.get("contentBlockIndex", 0), block)
        if name == "contentBlockDelta":
            return self._message_start() + self._delta(payload.get("contentBlockIndex", 0), payload.get("delta") or {})
        if name == "contentBlockStop":
            return self._close_block(payload.get("contentBlockIndex", 0))
        if name == "messageStop":
            self._stop_reason = stop_reason(payload.get("stopReason"))
            additional = payload.get("additionalModelResponseFields")
            self._stop_sequence = matched_stop_sequence(self._stop_reason, additional, self._stop_sequences)
            return self._message_start() + b"".join(self._close_block(block) for block in list(self._open))
        if name == "metadata" and self._stop_reason is not None:
            self._done = True
            self.usage = Usage.from_converse(payload.get("usage") or {})
            usage = anthropic_usage(payload.get("usage"))
            delta = {"delta": {"stop_reason": self._stop_reason, "stop_sequence": self._stop_sequence}, "usage": usage}
            return named_event("message_delta", delta) + named_event("message_stop", {})
        return b""

    def _message_start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        message = {
            "id": message_id(),
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            # Converse reports usage only at the end; message_delta carries it.
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return named_event("message_start", {"message": message})

    def _open_block(self, source: int, block: dict[str, Any]) -> bytes:
        index = len(self._blocks)
        self._blocks[source] = (index, block["type"])
        self._open.add(source)
        return named_event("content_block_start", {"index": index, "content_block": block})

    def _close_block(self, source: int) -> bytes:
        if source not in self._open:
            return b""
        self._open.discard(source)
        return named_event("content_block_stop", {"index": self._blocks[source][0]})

    def _delta(self, source: int, delta: dict[str, Any]) -> bytes:
        out = b""
        if "text" in delta:
            if source not in self._blocks:
                out += self._open_block(source, {"type": "text", "text": ""})
            return out + self._block_delta(source, {"type": "text_delta", "text": delta["text"]})
        if "toolUse" in delta:
            if source not in self._blocks:
                raise UpstreamBroken("bedrock sent tool input for a block it never started", code="upstream_bad_frame")
            fragment = (delta["toolUse"] or {}).get("input", "")
            return self._block_delta(source, {"type": "input_json_delta", "partial_json": fragment})
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            if "redactedContent" in reasoning:
                # Redacted reasoning comes whole: a block that opens and closes at once.
                return self._open_block(source, {"type": "redacted_thinking", "data": reasoning["redactedContent"]})
            if source not in self._blocks:
                out += self._open_block(source, {"type": "thinking", "thinking": "", "signature": ""})
            if reasoning.get("text"):
                out += self._block_delta(source, {"type": "thinking_delta", "thinking": reasoning["text"]})
            if reasoning.get("signature"):
                out += self._block_delta(source, {"type": "signature_delta", "signature": reasoning["signature"]})
        return out

    def _block_delta(self, source: int, delta: dict[str, Any]) -> bytes:
        return named_event("content_block_delta", {"index": self._blocks[source][0], "delta": delta})
