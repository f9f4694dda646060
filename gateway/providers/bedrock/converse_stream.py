"""ConverseStream event frames → neutral events, incrementally; and the composed
translators for OpenAI chat (``/v1/chat/completions``) and Anthropic Messages
(``/v1/messages``), which share the one :class:`ConverseEvents`.

Events in order: ``messageStart`` → per block ``contentBlockStart`` (tool use only),
``contentBlockDelta`` (text, tool input pieces, reasoning), ``contentBlockStop`` →
``messageStop`` (the stop reason, and the matched stop sequence in
``additionalModelResponseFields``) → ``metadata`` (usage, after the stop). The
finish goes out at ``messageStop``; the usage and the end at ``metadata``. An
exception frame raises the matching GatewayError; a stream that ends before both
``messageStop`` and ``metadata`` arrived raises too — it never ends cleanly.

With ``answer_tool`` (``response_format``), that tool's input pieces go out as
content deltas, text deltas are left out, and a reply that only called it finishes
with ``stop``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import UpstreamBroken
from ...streaming.eventstream import EventStreamDecoder, Frame
from ...translate.anthropic_events import AnthropicEventEncoder
from ...translate.events import (
    BlockEnd,
    End,
    Finish,
    MessageStart,
    ReasoningDelta,
    RedactedReasoning,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)
from ...translate.openai_chunks import OpenAIChunkEncoder
from ...translate.stream import TranslatedStream
from ...usage import Usage
from .converse_response import USAGE_SHAPE, matched_stop_sequence, neutral_finish
from .errors import AnthropicShapedError, frame_error
from .messages import message_id

_NOTHING: tuple[Any, ...] = ()


def event_of(frame: Frame) -> tuple[str, dict[str, Any]]:
    """A frame → (event name, payload); exception and error frames raise."""
    if frame.message_type != "event":
        raise frame_error(frame)
    try:
        payload = orjson.loads(frame.payload) if frame.payload else {}
    except orjson.JSONDecodeError:
        raise UpstreamBroken(
            f"bedrock sent a {frame.event_type} event that is not JSON", code="upstream_bad_frame"
        ) from None
    return frame.event_type or "", payload if isinstance(payload, dict) else {}


class ConverseEvents:
    """ConverseStream frames → neutral events."""

    def __init__(self, *, answer_tool: str | None = None, stop_sequences: tuple[str, ...] = ()) -> None:
        self._answer_tool = answer_tool
        self._answer_blocks: dict[int, bool] = {}  # contentBlockIndex → some input sent
        self._tool_index: dict[int, int] = {}  # contentBlockIndex → OpenAI tool_calls index
        self._stop_sequences = stop_sequences
        self._stopped = False
        self._done = False

    def event(self, frame: Frame) -> tuple[Any, ...]:
        name, payload = event_of(frame)
        if self._done:
            return _NOTHING
        if name == "contentBlockDelta":
            return self._delta(payload.get("contentBlockIndex", 0), payload.get("delta") or {})
        if name == "messageStart":
            return (MessageStart(),)
        if name == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if use is None:
                return _NOTHING
            block = payload.get("contentBlockIndex", 0)
            if self._answer_tool is not None and use.get("name") == self._answer_tool:
                self._answer_blocks[block] = False
                return (MessageStart(),)
            call = len(self._tool_index)
            self._tool_index[block] = call
            return (ToolCallStart(call, use.get("toolUseId"), use.get("name"), block),)
        if name == "contentBlockStop":
            block = payload.get("contentBlockIndex", 0)
            if self._answer_blocks.get(block) is False:
                return (TextDelta("{}", block), BlockEnd(block))  # an answer tool called without input pieces
            return (BlockEnd(block),)
        if name == "messageStop":
            self._stopped = True
            answered, called = bool(self._answer_blocks), bool(self._tool_index)
            reason = neutral_finish(payload.get("stopReason"), answered=answered, called_client_tools=called)
            matched = matched_stop_sequence(reason, payload.get("additionalModelResponseFields"), self._stop_sequences)
            return (Finish(reason, matched),)
        if name == "metadata" and self._stopped:
            # Usage arrives after messageStop; a metadata before it is not the end.
            self._done = True
            return (UsageReport(Usage.from_converse(payload.get("usage") or {})), End())
        return _NOTHING  # events added to the API later

    def close(self) -> tuple[Any, ...]:
        missing = "metadata" if self._stopped else "messageStop"
        raise UpstreamBroken(f"bedrock stream ended before {missing}: the answer is incomplete", code="upstream_truncated")

    def _delta(self, block: int, delta: dict[str, Any]) -> tuple[Any, ...]:
        if "text" in delta:
            if self._answer_tool is not None:
                return _NOTHING  # the content is the answer tool's JSON alone
            return (TextDelta(delta["text"], block),)
        if "toolUse" in delta:
            fragment = (delta["toolUse"] or {}).get("input", "")
            if block in self._answer_blocks:
                if not fragment:
                    return _NOTHING
                self._answer_blocks[block] = True
                return (TextDelta(fragment, block),)
            call = self._tool_index.get(block)
            if call is None:
                raise UpstreamBroken("bedrock sent tool input for a block it never started", code="upstream_bad_frame")
            return (ToolCallDelta(call, fragment, block),)
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict):
            if "redactedContent" in reasoning:
                return (RedactedReasoning(reasoning["redactedContent"], block),)
            return (ReasoningDelta(reasoning.get("text") or "", reasoning.get("signature") or "", block),)
        return _NOTHING


class ConverseChatStream(TranslatedStream):
    """Event-stream bytes → OpenAI chunk bytes."""

    def __init__(self, model: str, include_usage: bool, answer_tool: str | None = None) -> None:
        super().__init__(
            EventStreamDecoder(),
            ConverseEvents(answer_tool=answer_tool),
            OpenAIChunkEncoder(model=model, include_usage=include_usage, usage_shape=USAGE_SHAPE),
        )


class ConverseMessagesStream(TranslatedStream):
    """Event-stream bytes → Anthropic Messages events (``/v1/messages``); errors in
    Anthropic's shape, so the relay ends the stream with an ``event: error`` as
    Anthropic does."""

    def __init__(self, model: str, stop_sequences: tuple[str, ...] = ()) -> None:
        super().__init__(
            EventStreamDecoder(),
            ConverseEvents(stop_sequences=stop_sequences),
            AnthropicEventEncoder(model=model, message_id=message_id, shape_error=AnthropicShapedError),
        )
