"""Cohere v2 chat stream → neutral events (sans-IO), and the composed translator to
OpenAI ``chat.completion.chunk`` events.

Cohere sends typed SSE events (``event: <type>``, the ``data`` repeating ``type``):
``message-start`` (the id) → per content block ``content-start`` / ``content-delta``
(``delta.message.content.text``, or ``.thinking``) / ``content-end``; before tool calls
``tool-plan-delta`` (``delta.message.tool_plan``); per call ``tool-call-start``
(``delta.message.tool_calls`` with id, name and maybe the first arguments) /
``tool-call-delta`` (argument fragments) / ``tool-call-end``; ``citation-*`` events;
then ``message-end`` with ``delta.finish_reason`` and ``delta.usage``. Unknown types are
ignored. Text → content deltas; thinking and the tool plan → reasoning.

The answer is complete only with ``message-end``: a stream that ends without it, or an
error (an ``ERROR`` finish, or an event carrying only a ``message``), raises, so the
client sees an error event and never ``[DONE]``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import UpstreamBroken
from ...streaming.sse import Event, SSEDecoder
from ...translate.events import (
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
from .response import USAGE_SHAPE, cohere_usage, finish_reason


class CohereEvents:
    """Cohere SSE events → neutral events."""

    def __init__(self) -> None:
        self._started = False
        self._tool_calls: dict[Any, int] = {}  # Cohere's call index → OpenAI's
        self._ended = False
        self._usage = Usage()

    def event(self, event: Event) -> list[Any]:
        data = event.data
        if data == "[DONE]" or self._ended:
            return []
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamBroken("cohere sent a stream event whose data is not JSON") from None
        if not isinstance(payload, dict):
            raise UpstreamBroken("cohere sent a stream event whose data is not an object")
        kind = payload.get("type")
        if kind is None and isinstance(payload.get("message"), str):
            raise gateway_error(500, payload["message"])  # an error in the stream
        delta = payload.get("delta") if isinstance(payload.get("delta"), dict) else {}
        message = delta.get("message") if isinstance(delta.get("message"), dict) else {}
        out: list[Any] = []
        if not self._started:
            self._started = True
            out.append(MessageStart("chatcmpl-" + str(payload.get("id") or "") if kind == "message-start" else None))
        if kind == "content-delta":
            content = message.get("content") if isinstance(message.get("content"), dict) else {}
            if isinstance(content.get("text"), str) and content["text"]:
                out.append(TextDelta(content["text"]))
            elif isinstance(content.get("thinking"), str) and content["thinking"]:
                out.append(ReasoningDelta(content["thinking"]))
        elif kind == "tool-plan-delta":
            if isinstance(message.get("tool_plan"), str) and message["tool_plan"]:
                out.append(ReasoningDelta(message["tool_plan"]))
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = message.get("tool_calls") if isinstance(message.get("tool_calls"), dict) else {}
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            key = payload.get("index")
            if kind == "tool-call-start":
                if not isinstance(call.get("id"), str) or not isinstance(function.get("name"), str):
                    raise UpstreamBroken("cohere started a tool call without its id and name")
                index = self._tool_calls[key] = len(self._tool_calls)
                out.append(ToolCallStart(index, call["id"], function["name"]))
            elif key not in self._tool_calls:
                raise UpstreamBroken("cohere sent tool-call arguments before the call started")
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                out.append(ToolCallDelta(self._tool_calls[key], arguments))
        elif kind == "message-end":
            self._ended = True
            out.append(Finish(finish_reason(delta.get("finish_reason"), called_tools=bool(self._tool_calls))))
            # The usage chunk and [DONE] follow at the end of the body, as before.
            self._usage = cohere_usage(delta.get("usage"))
        return out

    def reported_usage(self) -> Usage | None:
        """Cohere counts only in ``message-end`` (a stream cut just after it has them)."""
        return self._usage if self._ended else None

    def close(self) -> tuple[Any, ...]:
        if not self._ended:
            raise UpstreamBroken(
                "cohere's stream ended before its message-end: the answer is incomplete",
                code="upstream_stream_truncated",
            )
        return (UsageReport(self._usage), End())


class ChatStreamTranslator(TranslatedStream):
    """Cohere SSE bytes → OpenAI chunk bytes."""

    def __init__(self, *, model: str, include_usage: bool) -> None:
        super().__init__(
            SSEDecoder(),
            CohereEvents(),
            OpenAIChunkEncoder(model=model, include_usage=include_usage, usage_shape=USAGE_SHAPE),
        )
