"""Anthropic Messages stream → neutral events (sans-IO), and the composed translator.

Anthropic names each event and repeats its name as ``type`` in the data::

    message_start → (content_block_start → content_block_delta* → content_block_stop)*
    → message_delta (stop_reason, cumulative usage) → message_stop

``ping`` may come anywhere, ``error`` may come after the 200, and event types added
later must not break old gateways, so unknown ones are skipped. Tool-use blocks get
OpenAI tool-call indexes in their order of arrival (0, 1, ...), whatever their
Anthropic block index; their ``input_json_delta`` pieces become argument fragments.

With ``answer_tool`` (``response_format``), that tool's argument pieces go out as
content deltas, text deltas are left out (the content is exactly the JSON), and a
reply that only called it finishes with ``stop``.

The end is ``message_stop``: only then come the finish, the usage and the end. A
stream that stops before it is an error, never a clean end.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import UpstreamBroken
from ...streaming.sse import Event, SSEDecoder
from ...translate.events import (
    BlockEnd,
    End,
    Finish,
    MessageStart,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)
from ...translate.openai_chunks import OpenAIChunkEncoder
from ...translate.stream import TranslatedStream
from ...usage import Usage
from .errors import gateway_error
from .response import USAGE_SHAPE, answer_finish

_NOTHING: tuple[Any, ...] = ()


class MessagesEvents:
    """Anthropic SSE events → neutral events."""

    def __init__(self, *, answer_tool: str | None = None) -> None:
        self._started = False
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        # Anthropic block index → OpenAI tool_calls index; the open tool blocks that
        # have not sent an argument piece yet → the input their start carried.
        self._tools: dict[Any, int] = {}
        self._tool_input: dict[Any, Any] = {}
        self._answer_tool = answer_tool
        self._answer_blocks: set[Any] = set()  # Anthropic block indexes of answer-tool calls
        self._finished = False

    def event(self, event: Event) -> tuple[Any, ...]:
        if self._finished:
            return _NOTHING
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamBroken(f"anthropic sent a {event.event!r} event whose data is not JSON") from None
        if not isinstance(payload, dict):
            raise UpstreamBroken(f"anthropic sent a {event.event!r} event whose data is not an object")
        kind = payload.get("type") or event.event
        if kind == "error":
            raise gateway_error(payload.get("error"))
        if kind == "message_start":
            return self._start(payload.get("message") or {})
        if kind not in _CONTENT_EVENTS:
            return _NOTHING  # ping, and event types this gateway does not know yet
        index = payload.get("index")
        if kind == "content_block_start":
            out = self._block_start(index, payload.get("content_block") or {})
        elif kind == "content_block_delta":
            out = self._delta(index, payload.get("delta") or {})
        elif kind == "content_block_stop":
            out = self._block_stop(index)
        elif kind == "message_delta":
            self._stop_reason = (payload.get("delta") or {}).get("stop_reason") or self._stop_reason
            self._merge_usage(payload.get("usage"))
            out = _NOTHING
        else:  # message_stop
            self._finished = True
            reason = answer_finish(self._stop_reason, answered=bool(self._answer_blocks), called_client_tools=bool(self._tools))
            out = (Finish(reason), UsageReport(Usage.from_anthropic(self._usage)), End())
        if not self._started:
            return self._start({}) + out
        return out

    def reported_usage(self) -> Usage | None:
        """The counts so far (a stream cut short): the input from ``message_start``, the
        output from the latest ``message_delta`` (``message_start`` says 1)."""
        return Usage.from_anthropic(self._usage) if self._usage else None

    def close(self) -> tuple[Any, ...]:
        raise UpstreamBroken(
            "anthropic's stream ended before message_stop: the answer is incomplete",
            code="upstream_stream_truncated",
        )

    def _start(self, message: dict[str, Any]) -> tuple[Any, ...]:
        if self._started:
            return _NOTHING
        self._started = True
        self._merge_usage(message.get("usage"))
        return (MessageStart(message.get("id"), message.get("model")),)

    def _merge_usage(self, usage: Any) -> None:
        # message_delta's usage is cumulative: later counts replace earlier ones.
        if isinstance(usage, dict):
            self._usage.update({key: value for key, value in usage.items() if value is not None})

    def _block_start(self, index: Any, block: dict[str, Any]) -> tuple[Any, ...]:
        kind = block.get("type")
        if kind == "text" and block.get("text") and self._answer_tool is None:
            return (TextDelta(block["text"], index),)
        if kind == "thinking" and block.get("thinking"):
            return (ReasoningDelta(block["thinking"], block=index),)
        if kind == "tool_use" and self._answer_tool is not None and block.get("name") == self._answer_tool:
            self._answer_blocks.add(index)
            self._tool_input[index] = block.get("input") or {}
            return _NOTHING
        if kind == "tool_use":
            call = len(self._tools)
            self._tools[index] = call
            self._tool_input[index] = block.get("input") or {}
            return (ToolCallStart(call, block.get("id") or "", block.get("name") or "", index),)
        return _NOTHING

    def _delta(self, index: Any, delta: dict[str, Any]) -> tuple[Any, ...]:
        kind = delta.get("type")
        if kind == "text_delta":
            if delta.get("text") and self._answer_tool is None:
                return (TextDelta(delta["text"], index),)
            return _NOTHING
        if kind == "input_json_delta" and index in self._answer_blocks:
            fragment = delta.get("partial_json")
            if not fragment:
                return _NOTHING
            self._tool_input.pop(index, None)
            return (TextDelta(fragment, index),)
        if kind == "input_json_delta" and index in self._tools:
            fragment = delta.get("partial_json")
            if not fragment:
                return _NOTHING  # the first piece is often empty
            self._tool_input.pop(index, None)  # the pieces carry the whole input
            return (ToolCallDelta(self._tools[index], fragment, index),)
        if kind == "thinking_delta" and delta.get("thinking"):
            return (ReasoningDelta(delta["thinking"], block=index),)
        if kind == "signature_delta" and delta.get("signature"):
            return (ReasoningDelta(signature=delta["signature"], block=index),)
        return _NOTHING  # citations_delta, and deltas added later

    def _block_stop(self, index: Any) -> tuple[Any, ...]:
        # A tool_use with no argument pieces (no parameters, or the input came whole
        # in its start): its arguments must still be a JSON object, "{}" at least.
        start_input = self._tool_input.pop(index, None)
        if start_input is None:
            return (BlockEnd(index),)
        arguments = orjson.dumps(start_input).decode()
        if index in self._answer_blocks:
            return (TextDelta(arguments, index), BlockEnd(index))
        return (ToolCallDelta(self._tools[index], arguments, index), BlockEnd(index))


_CONTENT_EVENTS = frozenset(
    {"content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
)


class ChatStreamTranslator(TranslatedStream):
    """Anthropic SSE bytes → OpenAI chunk bytes: SSE decoder → :class:`MessagesEvents` → OpenAI encoder."""

    def __init__(self, *, model: str, include_usage: bool, answer_tool: str | None = None) -> None:
        super().__init__(
            SSEDecoder(),
            MessagesEvents(answer_tool=answer_tool),
            OpenAIChunkEncoder(model=model, include_usage=include_usage, usage_shape=USAGE_SHAPE),
        )
