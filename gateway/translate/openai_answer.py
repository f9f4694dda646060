"""An OpenAI chat-completions answer → neutral events (sans-IO): the whole
``chat.completion`` object, the ``chat.completion.chunk`` stream, and errors.

For clients of another protocol (``/v1/messages``) in front of OpenAI-compatible
upstreams. Only the first choice is read (the request never asks for more).

* text (``content``) → text deltas, empty ones left out; a ``refusal`` → text with
  the ``content_filter`` finish; thinking text, which compatible servers send as
  ``reasoning_content`` (DeepSeek, vLLM) or ``reasoning`` (OpenRouter, Ollama),
  → reasoning deltas;
* tool calls → a start (id, name) at the first piece of each ``index``, argument
  pieces after it;
* ``finish_reason`` → the neutral finish: ``stop`` is a ``stop_sequence`` when the
  server names the matched string (vLLM's ``stop_reason``) and it is one of the
  request's; ``function_call`` is ``tool_calls``;
* usage: the top-level ``usage`` (the ``include_usage`` chunk, or the last chunk of
  servers that always send it), else Groq's ``x_groq.usage``;
* the end is ``data: [DONE]``; a stream that ends without it but after its finish is
  complete too (some servers omit it); one that ends before its finish is not, and
  ends with an error, never as a finished answer.

A ``{"error": {...}}`` object, as an HTTP answer or as an event mid-stream, becomes
a GatewayError with the status its type means.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ..errors import GatewayError, UpstreamBroken
from ..streaming.sse import Event
from ..usage import Usage
from .events import End, Finish, MessageStart, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallStart, UsageReport

FINISH_REASONS = {"length": "length", "tool_calls": "tool_calls", "function_call": "tool_calls", "content_filter": "content_filter"}

# OpenAI error type → the HTTP status it comes with (for errors met mid-stream).
_TYPE_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "permission_error": 403,
    "not_found_error": 404,
    "rate_limit_error": 429,
    "insufficient_quota": 429,
    "tokens": 429,
    "requests": 429,
    "server_error": 500,
    "api_error": 500,
    "overloaded_error": 503,
}
_STATUS_TYPE = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error", 404: "not_found_error", 429: "rate_limit_error"}


def openai_error(error: Any, *, status: int | None = None) -> GatewayError:
    """An OpenAI ``error`` object (or an error string) → a GatewayError."""
    if not isinstance(error, dict):
        error = {"message": error if isinstance(error, str) else None}
    kind = error.get("type") if isinstance(error.get("type"), str) else None
    if status is None:
        status = _TYPE_STATUS.get(kind or "", 502)
    message = error.get("message") if isinstance(error.get("message"), str) and error["message"] else None
    code = error.get("code")
    return GatewayError(
        message or f"upstream answered HTTP {status}",
        status=status,
        type=kind or _STATUS_TYPE.get(status, "api_error"),
        code=str(code) if code not in (None, "") else "upstream_error",
        param=error.get("param") if isinstance(error.get("param"), str) else None,
    )


def upstream_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    """A non-2xx answer of an OpenAI-compatible upstream → a GatewayError, same status."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and "error" in payload:
        return openai_error(payload["error"], status=status)
    if isinstance(payload, dict) and isinstance(payload.get("message"), str):  # e.g. Mistral's {"object": "error", ...}
        return openai_error({"message": payload["message"], "type": payload.get("type")}, status=status)
    snippet = body[:300].decode("utf-8", "replace").strip()
    return openai_error({"message": f"upstream answered HTTP {status}" + (f": {snippet}" if snippet else "")}, status=status)


def finish(choice: Mapping[str, Any], stop_sequences: tuple[str, ...]) -> Finish:
    reason = choice.get("finish_reason")
    if reason in FINISH_REASONS:
        return Finish(FINISH_REASONS[reason])
    matched = choice.get("stop_reason")
    if isinstance(matched, str) and matched in stop_sequences:
        return Finish("stop_sequence", matched)
    return Finish("stop")


def _usage(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    usage = payload.get("usage")
    if isinstance(usage, dict):
        return usage
    groq = payload.get("x_groq")
    usage = groq.get("usage") if isinstance(groq, dict) else None
    return usage if isinstance(usage, dict) else None


def _reasoning(part: Mapping[str, Any]) -> str | None:
    text = part.get("reasoning_content")
    if not isinstance(text, str):
        text = part.get("reasoning")
    return text if isinstance(text, str) and text else None


def completion_events(body: bytes, stop_sequences: tuple[str, ...] = ()) -> list[Any]:
    """A whole ``chat.completion`` body → neutral events."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if not isinstance(answer, dict):
        raise UpstreamBroken("the upstream answered 2xx with a body that is not a chat completion")
    if "error" in answer:
        raise openai_error(answer["error"])
    choices = answer.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise UpstreamBroken("the upstream answered a chat completion without choices")
    choice = choices[0]
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    events: list[Any] = [MessageStart(answer.get("id") or None, answer.get("model") or None)]
    reasoning = _reasoning(message)
    if reasoning:
        events.append(ReasoningDelta(reasoning))
    if isinstance(message.get("content"), str) and message["content"]:
        events.append(TextDelta(message["content"]))
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal:
        events.append(TextDelta(refusal))
    for number, call in enumerate(message.get("tool_calls") or ()):
        function = (call.get("function") if isinstance(call, dict) else None) or {}
        events.append(ToolCallStart(number, call.get("id"), function.get("name")))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            events.append(ToolCallDelta(number, arguments))
    ended = finish(choice, stop_sequences)
    events.append(Finish("content_filter") if isinstance(refusal, str) and refusal else ended)
    events.append(UsageReport(Usage.from_openai(_usage(answer) or {})))
    return events


class OpenAIChunkEvents:
    """``chat.completion.chunk`` SSE events → neutral events."""

    def __init__(self, stop_sequences: tuple[str, ...] = ()) -> None:
        self._stop_sequences = stop_sequences
        self._started = False
        self._finished = False
        self._refused = False
        self._ended = False
        self._calls: set[int] = set()
        self._usage: Mapping[str, Any] = {}

    def event(self, event: Event) -> list[Any]:
        data = event.data
        if self._ended:
            return []
        if data == "[DONE]":
            if not self._finished:
                raise UpstreamBroken("the upstream ended its stream before a finish_reason: the answer is incomplete")
            return self._end()
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            raise UpstreamBroken("the upstream sent a stream event whose data is not JSON") from None
        if not isinstance(payload, dict):
            raise UpstreamBroken("the upstream sent a stream event whose data is not an object")
        if "error" in payload:
            raise openai_error(payload["error"])
        out: list[Any] = []
        if not self._started:
            self._started = True
            out.append(MessageStart(payload.get("id") or None, payload.get("model") or None))
        usage = _usage(payload)
        if usage is not None:
            self._usage = usage
        for choice in payload.get("choices") or ():
            if isinstance(choice, dict) and choice.get("index", 0) == 0:
                self._choice(choice, out)
        return out

    def _choice(self, choice: dict[str, Any], out: list[Any]) -> None:
        delta = choice.get("delta")
        if isinstance(delta, dict):
            reasoning = _reasoning(delta)
            if reasoning:
                out.append(ReasoningDelta(reasoning))
            content = delta.get("content")
            if isinstance(content, str) and content:
                out.append(TextDelta(content))
            refusal = delta.get("refusal")
            if isinstance(refusal, str) and refusal:
                self._refused = True
                out.append(TextDelta(refusal))
            for piece in delta.get("tool_calls") or ():
                if isinstance(piece, dict):
                    self._tool_piece(piece, out)
        if choice.get("finish_reason") and not self._finished:
            self._finished = True
            out.append(Finish("content_filter") if self._refused else finish(choice, self._stop_sequences))

    def _tool_piece(self, piece: dict[str, Any], out: list[Any]) -> None:
        index = piece.get("index", 0)
        function = piece.get("function") if isinstance(piece.get("function"), dict) else {}
        if index not in self._calls:
            self._calls.add(index)
            out.append(ToolCallStart(index, piece.get("id"), function.get("name")))
        arguments = function.get("arguments")
        if isinstance(arguments, str) and arguments:
            out.append(ToolCallDelta(index, arguments))

    def _end(self) -> list[Any]:
        self._ended = True
        return [UsageReport(Usage.from_openai(self._usage)), End()]

    def close(self) -> list[Any]:
        if self._ended:
            return []
        if self._finished:
            return self._end()
        raise UpstreamBroken("the upstream's stream ended before its finish_reason: the answer is incomplete")
