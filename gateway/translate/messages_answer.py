"""Answers of a provider that speaks another protocol, for a ``/v1/messages`` client.

:class:`MessagesTranslator` is the relay's ``ResponseTranslator`` for that case,
composed of the provider's parts (its error reader, its whole-answer events, its
stream's decoder and event translator) and Anthropic's encoders: a whole answer
becomes one ``message`` object (:mod:`.anthropic_message`), a stream becomes
Anthropic's named events (:mod:`.anthropic_events`), errors take Anthropic's shape
with the upstream's status.

Anthropic answers are made of content blocks; OpenAI chunks and Gemini parts have
none. :class:`AnthropicBlocks` gives their events block numbers: consecutive text
(or thinking) is one block, each tool call is its own, and a block ends
(:class:`~.events.BlockEnd`) when the next one begins, so that every block's
``content_block_start`` … ``content_block_stop`` comes whole, in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import GatewayError, UpstreamBroken
from ..streaming.sse import SSEDecoder
from .anthropic_errors import AnthropicShapedError
from .anthropic_events import AnthropicEventEncoder
from .anthropic_message import build_message
from .events import BlockEnd, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallStart
from .stream import Decoder, EventTranslator, TranslatedStream


class AnthropicBlocks:
    """Neutral events without blocks → the same events with Anthropic block numbers
    (an :class:`~.stream.EventTranslator` around another one). Events of any choice
    but the first are left out: a Messages answer has one."""

    def __init__(self, inner: EventTranslator | None = None) -> None:
        self._inner = inner
        self._kind: Any = None  # what the open block holds: "text", "thinking" or ("tool", call)
        self._block = -1
        self._tool_blocks: dict[int, int] = {}  # tool call → its block

    def event(self, upstream: Any) -> list[Any]:
        return self.number(self._inner.event(upstream))

    def close(self) -> list[Any]:
        return self.number(self._inner.close())

    def number(self, events: Iterable[Any]) -> list[Any]:
        out: list[Any] = []
        for event in events:
            kind = type(event)
            if kind is TextDelta:
                if event.choice:
                    continue
                if self._kind != "text":
                    self._open("text", out)
                out.append(TextDelta(event.text, self._block))
            elif kind is ReasoningDelta:
                if event.choice:
                    continue
                if self._kind != "thinking":
                    self._open("thinking", out)
                out.append(ReasoningDelta(event.text, event.signature, self._block))
            elif kind is ToolCallStart:
                if event.choice:
                    continue
                self._open(("tool", event.call), out)
                self._tool_blocks[event.call] = self._block
                out.append(ToolCallStart(event.call, event.id, event.name, self._block))
            elif kind is ToolCallDelta:
                if event.choice:
                    continue
                block = self._tool_blocks.get(event.call)
                if block is None:
                    raise UpstreamBroken("the upstream sent tool-call arguments before the call's name")
                out.append(ToolCallDelta(event.call, event.arguments, block))
            elif getattr(event, "choice", 0) == 0:  # start, finish, usage, end, error
                out.append(event)
        return out

    def _open(self, kind: Any, out: list[Any]) -> None:
        if self._block >= 0:
            out.append(BlockEnd(self._block))
        self._block += 1
        self._kind = kind


@dataclass(frozen=True)
class MessagesTranslator:
    model: str
    # A non-2xx upstream answer → the error it means (its status kept).
    upstream_error: Callable[[int, Mapping[str, str], bytes], GatewayError]
    # A whole 2xx body → neutral events.
    answer_events: Callable[[bytes], Iterable[Any]]
    # A fresh upstream-event translator for one stream.
    stream_events: Callable[[], EventTranslator]
    decoder: Callable[[], Decoder] = SSEDecoder

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return AnthropicShapedError(self.upstream_error(status, headers, body)).body()

    def body(self, body: bytes) -> bytes:
        events = AnthropicBlocks().number(self.answer_events(body))
        return orjson.dumps(build_message(events, model=self.model))

    def stream_translator(self) -> TranslatedStream:
        return TranslatedStream(
            self.decoder(),
            AnthropicBlocks(self.stream_events()),
            AnthropicEventEncoder(model=self.model, shape_error=AnthropicShapedError),
        )
