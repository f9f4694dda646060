"""Gemini ``streamGenerateContent?alt=sse`` → OpenAI ``chat.completion.chunk`` events (sans-IO).

Each SSE ``data:`` is a whole ``GenerateContentResponse`` holding only the new parts
of each candidate; the last one of a candidate carries its ``finishReason``, and
``usageMetadata`` (cumulative: later counts replace earlier ones) comes with the
chunks, complete in the last. Gemini writes no end marker: the stream ends when the
connection does. So the end is judged at :meth:`close`: every candidate that began
must have finished, else the answer is incomplete and the stream ends with an error,
never ``[DONE]``.

Per candidate (one OpenAI choice each; ``n`` > 1 asks for several): the first
appearance sends ``delta.role``, text parts go out as content deltas, thought parts
as ``reasoning_content``, and each ``functionCall`` part (Gemini sends a call whole)
as one tool-call start with its id and name followed by its arguments.

A ``{"error": {...}}`` event, or a prompt Gemini blocked (``promptFeedback.blockReason``
and no candidates), raises the matching GatewayError: before the first byte the
client gets its status, after it an error event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ...errors import GatewayError, UpstreamBroken
from ...streaming.sse import SSEDecoder
from ...translate.openai_chunks import ChatChunkStream
from .errors import gateway_error
from .response import blocked_prompt, completion_id, finish_reason, function_call, openai_usage


@dataclass
class _Choice:
    chunks: ChatChunkStream
    tool_calls: int = 0
    finished: bool = False


class ChatStreamTranslator:
    def __init__(self, *, model: str, include_usage: bool) -> None:
        self._decoder = SSEDecoder()
        self._model = model  # the requested model, until an event names the exact version
        self._include_usage = include_usage
        self._id: str | None = None
        self._created: int | None = None
        self._choices: dict[int, _Choice] = {}
        self._usage: dict[str, Any] = {}
        # An error that followed answer text in the same read: raised at the next call.
        self._error: GatewayError | None = None

    def feed(self, data: bytes) -> bytes:
        if self._error is not None:
            raise self._error
        out = bytearray()
        for event in self._decoder.feed(data):
            try:
                out += self._event(_payload(event.data))
            except GatewayError as error:
                if not out:
                    raise
                # Answer text that came in the same read as the error goes out first.
                self._error = error
                break
        return bytes(out)

    def close(self) -> bytes:
        self._decoder.close()
        if self._error is not None:
            raise self._error
        if not self._choices or not all(choice.finished for choice in self._choices.values()):
            raise UpstreamBroken(
                "google's stream ended before its finishReason: the answer is incomplete",
                code="upstream_stream_truncated",
            )
        first = self._choices[min(self._choices)].chunks
        return first.usage(openai_usage(self._usage)) + first.done()

    def _event(self, payload: dict[str, Any]) -> bytes:
        if "error" in payload:
            raise gateway_error(payload["error"])
        blocked = blocked_prompt(payload)
        if blocked is not None:
            raise blocked
        if self._id is None:
            self._id = completion_id(payload)
            self._model = payload.get("modelVersion") or self._model
        if isinstance(payload.get("usageMetadata"), dict):
            self._usage = payload["usageMetadata"]
        out = bytearray()
        candidates = payload.get("candidates") or []
        for position, candidate in enumerate(candidates if isinstance(candidates, list) else ()):
            if isinstance(candidate, dict):
                out += self._candidate(candidate, position)
        return bytes(out)

    def _candidate(self, candidate: dict[str, Any], position: int) -> bytes:
        index = candidate.get("index") if isinstance(candidate.get("index"), int) else position
        out = bytearray()
        choice = self._choices.get(index)
        if choice is None:
            chunks = ChatChunkStream(
                model=self._model,
                include_usage=self._include_usage,
                completion_id=self._id,
                created=self._created,
                index=index,
            )
            self._created = chunks.created
            choice = self._choices[index] = _Choice(chunks)
            out += chunks.role()
        if choice.finished:
            return bytes(out)  # nothing may follow a choice's finish chunk
        chunks = choice.chunks
        for part in (candidate.get("content") or {}).get("parts") or ():
            if not isinstance(part, dict):
                continue
            call = function_call(part)
            if call is not None:
                function = call["function"]
                out += chunks.tool_call_start(choice.tool_calls, call["id"], function["name"])
                out += chunks.tool_call_arguments(choice.tool_calls, function["arguments"])
                choice.tool_calls += 1
            elif isinstance(part.get("text"), str) and part["text"]:
                out += chunks.reasoning(part["text"]) if part.get("thought") else chunks.content(part["text"])
        reason = candidate.get("finishReason")
        if reason:
            choice.finished = True
            out += chunks.finish(finish_reason(reason, called_tools=choice.tool_calls > 0))
        return bytes(out)


def _payload(data: str) -> dict[str, Any]:
    try:
        payload = orjson.loads(data)
    except orjson.JSONDecodeError:
        raise UpstreamBroken("google sent a stream event whose data is not JSON") from None
    if not isinstance(payload, dict):
        raise UpstreamBroken("google sent a stream event whose data is not an object")
    return payload
