"""Cohere v2 chat stream → OpenAI ``chat.completion.chunk`` events (sans-IO).

Cohere sends typed SSE events (``event: <type>``, the ``data`` repeating ``type``):
``message-start`` (the id) → per content block ``content-start`` / ``content-delta``
(``delta.message.content.text``, or ``.thinking``) / ``content-end``; before tool calls
``tool-plan-delta`` (``delta.message.tool_plan``); per call ``tool-call-start``
(``delta.message.tool_calls`` with id, name and maybe the first arguments) /
``tool-call-delta`` (argument fragments) / ``tool-call-end``; ``citation-*`` events;
then ``message-end`` with ``delta.finish_reason`` and ``delta.usage``. Unknown types are
ignored. Text → content deltas; thinking and the tool plan → ``reasoning_content``.

The answer is complete only with ``message-end``: a stream that ends without it, or an
error (an ``ERROR`` finish, or an event carrying only a ``message``), raises, so the
client sees an error event and never ``[DONE]``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError, UpstreamBroken
from ...streaming.sse import SSEDecoder
from ...translate.openai_chunks import ChatChunkStream
from .errors import gateway_error
from .response import finish_reason, openai_usage


class ChatStreamTranslator:
    def __init__(self, *, model: str, include_usage: bool) -> None:
        self._decoder = SSEDecoder()
        self._model = model
        self._include_usage = include_usage
        self._chunks: ChatChunkStream | None = None
        self._tool_calls: dict[Any, int] = {}  # Cohere's call index → OpenAI's
        self._usage: dict[str, Any] | None = None
        self._ended = False
        self._error: GatewayError | None = None

    def feed(self, data: bytes) -> bytes:
        if self._error is not None:
            raise self._error
        out = bytearray()
        for event in self._decoder.feed(data):
            try:
                out += self._event(event.data)
            except GatewayError as error:
                if not out:
                    raise
                self._error = error  # what came before the error in this read goes out first
                break
        return bytes(out)

    def close(self) -> bytes:
        self._decoder.close()
        if self._error is not None:
            raise self._error
        if not self._ended:
            raise UpstreamBroken(
                "cohere's stream ended before its message-end: the answer is incomplete",
                code="upstream_stream_truncated",
            )
        return self._stream().usage(self._usage or openai_usage(None)) + ChatChunkStream.done()

    def _stream(self, completion_id: str | None = None) -> ChatChunkStream:
        if self._chunks is None:
            self._chunks = ChatChunkStream(
                model=self._model, include_usage=self._include_usage, completion_id=completion_id
            )
        return self._chunks

    def _event(self, data: str) -> bytes:
        if data == "[DONE]" or self._ended:
            return b""
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
        out = bytearray()
        if self._chunks is None:
            chunks = self._stream("chatcmpl-" + str(payload.get("id") or "") if kind == "message-start" else None)
            out += chunks.role()
        chunks = self._stream()
        if kind == "content-delta":
            content = message.get("content") if isinstance(message.get("content"), dict) else {}
            if isinstance(content.get("text"), str) and content["text"]:
                out += chunks.content(content["text"])
            elif isinstance(content.get("thinking"), str) and content["thinking"]:
                out += chunks.reasoning(content["thinking"])
        elif kind == "tool-plan-delta":
            if isinstance(message.get("tool_plan"), str) and message["tool_plan"]:
                out += chunks.reasoning(message["tool_plan"])
        elif kind in ("tool-call-start", "tool-call-delta"):
            call = message.get("tool_calls") if isinstance(message.get("tool_calls"), dict) else {}
            function = call.get("function") if isinstance(call.get("function"), dict) else {}
            key = payload.get("index")
            if kind == "tool-call-start":
                if not isinstance(call.get("id"), str) or not isinstance(function.get("name"), str):
                    raise UpstreamBroken("cohere started a tool call without its id and name")
                index = self._tool_calls[key] = len(self._tool_calls)
                out += chunks.tool_call_start(index, call["id"], function["name"])
            elif key not in self._tool_calls:
                raise UpstreamBroken("cohere sent tool-call arguments before the call started")
            arguments = function.get("arguments")
            if isinstance(arguments, str) and arguments:
                out += chunks.tool_call_arguments(self._tool_calls[key], arguments)
        elif kind == "message-end":
            self._ended = True
            self._usage = openai_usage(delta.get("usage"))
            out += chunks.finish(finish_reason(delta.get("finish_reason"), called_tools=bool(self._tool_calls)))
        return bytes(out)
