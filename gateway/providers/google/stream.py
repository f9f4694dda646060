"""Gemini ``streamGenerateContent?alt=sse`` → neutral events (sans-IO), and the
composed translator to OpenAI ``chat.completion.chunk`` events.

Each SSE ``data:`` is a whole ``GenerateContentResponse`` holding only the new parts
of each candidate; the last one of a candidate carries its ``finishReason``, and
``usageMetadata`` (cumulative: later counts replace earlier ones) comes with the
chunks, complete in the last. Gemini writes no end marker: the stream ends when the
connection does. So the end is judged at :meth:`GeminiEvents.close`: every candidate
that began must have finished, else the answer is incomplete and the stream ends
with an error, never ``[DONE]``.

Per candidate (one OpenAI choice each; ``n`` > 1 asks for several): the first
appearance starts the choice, text parts go out as content deltas, thought parts
as reasoning, and each ``functionCall`` part (Gemini sends a call whole) as one
tool-call start with its id and name followed by its arguments.

A ``{"error": {...}}`` event, or a prompt Gemini blocked (``promptFeedback.blockReason``
and no candidates), raises the matching GatewayError: before the first byte the
client gets its status, after it an error event.
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
from .response import USAGE_SHAPE, blocked_prompt, completion_id, finish_reason, function_call


class GeminiEvents:
    """Gemini SSE events → neutral events."""

    def __init__(self) -> None:
        self._id: str | None = None
        self._model: str | None = None
        self._tool_calls: dict[int, int] = {}  # choice → tool calls so far
        self._finished: dict[int, bool] = {}  # choice → finished
        self._usage: dict[str, Any] = {}

    def event(self, event: Event) -> list[Any]:
        payload = _payload(event.data)
        if "error" in payload:
            raise gateway_error(payload["error"])
        blocked = blocked_prompt(payload)
        if blocked is not None:
            raise blocked
        if self._id is None:
            self._id = completion_id(payload)
            self._model = payload.get("modelVersion") or None
        if isinstance(payload.get("usageMetadata"), dict):
            self._usage = payload["usageMetadata"]
        out: list[Any] = []
        candidates = payload.get("candidates") or []
        for position, candidate in enumerate(candidates if isinstance(candidates, list) else ()):
            if isinstance(candidate, dict):
                self._candidate(candidate, position, out)
        return out

    def reported_usage(self) -> Usage | None:
        """The latest ``usageMetadata`` (a stream cut short): the prompt's count, and the
        candidates' so far when Gemini sent it."""
        return Usage.from_gemini(self._usage) if self._usage else None

    def close(self) -> tuple[Any, ...]:
        if not self._finished or not all(self._finished.values()):
            raise UpstreamBroken(
                "google's stream ended before its finishReason: the answer is incomplete",
                code="upstream_stream_truncated",
            )
        return (UsageReport(Usage.from_gemini(self._usage)), End())

    def _candidate(self, candidate: dict[str, Any], position: int, out: list[Any]) -> None:
        index = candidate.get("index") if isinstance(candidate.get("index"), int) else position
        finished = self._finished.get(index)
        if finished is None:
            self._finished[index] = False
            self._tool_calls[index] = 0
            out.append(MessageStart(self._id, self._model, index))
        elif finished:
            return  # nothing may follow a choice's finish
        for part in (candidate.get("content") or {}).get("parts") or ():
            if not isinstance(part, dict):
                continue
            call = function_call(part)
            if call is not None:
                number = self._tool_calls[index]
                function = call["function"]
                out.append(ToolCallStart(number, call["id"], function["name"], choice=index))
                out.append(ToolCallDelta(number, function["arguments"], choice=index))
                self._tool_calls[index] = number + 1
            elif isinstance(part.get("text"), str) and part["text"]:
                out.append(ReasoningDelta(part["text"], choice=index) if part.get("thought") else TextDelta(part["text"], choice=index))
        reason = candidate.get("finishReason")
        if reason:
            self._finished[index] = True
            out.append(Finish(finish_reason(reason, called_tools=self._tool_calls[index] > 0), choice=index))


def _payload(data: str) -> dict[str, Any]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamBroken("google sent a stream event whose data is not JSON") from None
    if not isinstance(payload, dict):
        raise UpstreamBroken("google sent a stream event whose data is not an object")
    return payload


class ChatStreamTranslator(TranslatedStream):
    """Gemini SSE bytes → OpenAI chunk bytes."""

    def __init__(self, *, model: str, include_usage: bool) -> None:
        super().__init__(
            SSEDecoder(),
            GeminiEvents(),
            OpenAIChunkEncoder(model=model, include_usage=include_usage, usage_shape=USAGE_SHAPE),
        )
