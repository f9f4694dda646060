"""Anthropic Messages stream → OpenAI ``chat.completion.chunk`` events (sans-IO).

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

The end is ``message_stop``: only then come the finish chunk, the usage chunk (when
asked for) and ``[DONE]``. A stream that stops before it is an error, never a
clean end.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError, UpstreamBroken
from ...streaming.sse import SSEDecoder
from ...translate.openai_chunks import ChatChunkStream
from ...usage import Usage
from .errors import gateway_error
from .response import answer_finish, openai_usage


class ChatStreamTranslator:
    def __init__(self, *, model: str, include_usage: bool, answer_tool: str | None = None) -> None:
        self._decoder = SSEDecoder()
        self._model = model  # the requested model, until message_start names the exact one
        self._include_usage = include_usage
        self._chunks: ChatChunkStream | None = None
        self._usage: dict[str, Any] = {}
        self._stop_reason: str | None = None
        # Anthropic block index → OpenAI tool_calls index; the open tool blocks that
        # have not sent an argument piece yet → the input their start carried.
        self._tools: dict[int, int] = {}
        self._tool_input: dict[int, Any] = {}
        self._answer_tool = answer_tool
        self._answer_blocks: set[Any] = set()  # Anthropic block indexes of answer-tool calls
        self._finished = False
        # An error event that followed answer text in the same read: raised next call.
        self._error: GatewayError | None = None
        self._content_chunks = 0
        # The answer's token usage, once message_stop has come (for the access log).
        self.usage: Usage | None = None

    def feed(self, data: bytes) -> bytes:
        if self._error is not None:
            raise self._error
        out = bytearray()
        had_content = self._content_chunks
        for event in self._decoder.feed(data):
            if self._finished:
                break
            try:
                payload = orjson.loads(event.data)
            except orjson.JSONDecodeError:
                raise UpstreamBroken(f"anthropic sent a {event.event!r} event whose data is not JSON") from None
            if not isinstance(payload, dict):
                raise UpstreamBroken(f"anthropic sent a {event.event!r} event whose data is not an object")
            kind = payload.get("type") or event.event
            try:
                piece = self._event(kind, payload)
            except GatewayError as error:
                if self._content_chunks == had_content:
                    raise
                # Answer text that came in the same read as the error goes out first;
                # the error follows at the next call (the upstream closes after it).
                self._error = error
                break
            if piece and kind != "message_start":
                self._content_chunks += 1
            out += piece
        return bytes(out)

    def close(self) -> bytes:
        self._decoder.close()
        if self._error is not None:
            raise self._error
        if not self._finished:
            raise UpstreamBroken(
                "anthropic's stream ended before message_stop: the answer is incomplete",
                code="upstream_stream_truncated",
            )
        return b""

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        if kind == "error":
            raise gateway_error(payload.get("error"))
        if kind == "message_start":
            return self._start(payload.get("message") or {})
        if kind not in _CONTENT_EVENTS:
            return b""  # ping, and event types this gateway does not know yet
        out = b"" if self._chunks is not None else self._start({})
        chunks = self._chunks
        index = payload.get("index")
        if kind == "content_block_start":
            return out + self._block_start(chunks, index, payload.get("content_block") or {})
        if kind == "content_block_delta":
            return out + self._delta(chunks, index, payload.get("delta") or {})
        if kind == "content_block_stop":
            return out + self._block_stop(chunks, index)
        if kind == "message_delta":
            self._stop_reason = (payload.get("delta") or {}).get("stop_reason") or self._stop_reason
            self._merge_usage(payload.get("usage"))
            return out
        # message_stop
        self._finished = True
        self.usage = Usage.from_anthropic(self._usage)
        return (
            out
            + chunks.finish(answer_finish(self._stop_reason, answered=bool(self._answer_blocks), called_client_tools=bool(self._tools)))
            + chunks.usage(openai_usage(self._usage))
            + chunks.done()
        )

    def _start(self, message: dict[str, Any]) -> bytes:
        if self._chunks is not None:
            return b""
        self._merge_usage(message.get("usage"))
        self._chunks = ChatChunkStream(
            model=message.get("model") or self._model,
            include_usage=self._include_usage,
            completion_id=message.get("id"),
        )
        return self._chunks.role()

    def _merge_usage(self, usage: Any) -> None:
        # message_delta's usage is cumulative: later counts replace earlier ones.
        if isinstance(usage, dict):
            self._usage.update({key: value for key, value in usage.items() if value is not None})

    def _block_start(self, chunks: ChatChunkStream, index: Any, block: dict[str, Any]) -> bytes:
        kind = block.get("type")
        if kind == "text" and block.get("text") and self._answer_tool is None:
            return chunks.content(block["text"])
        if kind == "thinking" and block.get("thinking"):
            return chunks.reasoning(block["thinking"])
        if kind == "tool_use" and self._answer_tool is not None and block.get("name") == self._answer_tool:
            self._answer_blocks.add(index)
            self._tool_input[index] = block.get("input") or {}
            return b""
        if kind == "tool_use":
            tool_index = len(self._tools)
            self._tools[index] = tool_index
            self._tool_input[index] = block.get("input") or {}
            return chunks.tool_call_start(tool_index, block.get("id") or "", block.get("name") or "")
        return b""

    def _delta(self, chunks: ChatChunkStream, index: Any, delta: dict[str, Any]) -> bytes:
        kind = delta.get("type")
        if kind == "text_delta" and delta.get("text") and self._answer_tool is None:
            return chunks.content(delta["text"])
        if kind == "input_json_delta" and index in self._answer_blocks:
            fragment = delta.get("partial_json")
            if not fragment:
                return b""
            self._tool_input.pop(index, None)
            return chunks.content(fragment)
        if kind == "input_json_delta" and index in self._tools:
            fragment = delta.get("partial_json")
            if not fragment:
                return b""  # the first piece is often empty
            self._tool_input.pop(index, None)  # the pieces carry the whole input
            return chunks.tool_call_arguments(self._tools[index], fragment)
        if kind == "thinking_delta" and delta.get("thinking"):
            return chunks.reasoning(delta["thinking"])
        return b""  # signature_delta, citations_delta, and deltas added later

    def _block_stop(self, chunks: ChatChunkStream, index: Any) -> bytes:
        # A tool_use with no argument pieces (no parameters, or the input came whole
        # in its start): its arguments must still be a JSON object, "{}" at least.
        start_input = self._tool_input.pop(index, None)
        if start_input is None:
            return b""
        if index in self._answer_blocks:
            return chunks.content(orjson.dumps(start_input).decode())
        return chunks.tool_call_arguments(self._tools[index], orjson.dumps(start_input).decode())


_CONTENT_EVENTS = frozenset(
    {"content_block_start", "content_block_delta", "content_block_stop", "message_delta", "message_stop"}
)
