"""A stream translator composed of three sans-IO parts: decoder → translator → encoder.

The decoder turns upstream bytes into upstream events (:mod:`gateway.streaming.sse`,
:mod:`gateway.streaming.eventstream`); the provider's translator turns each into
neutral events (:mod:`.events`); the encoder of the client's protocol turns those
into bytes. :class:`TranslatedStream` is the relay's ``StreamTranslator``
(``feed(bytes) -> bytes``, ``close() -> bytes``, ``usage``), and the one place that:

* takes the answer's usage from the neutral usage event (for the access line);
* counts the text it produced (deltas, characters), so that a stream cut short
  before its usage can be charged what it streamed (:meth:`partial_usage`);
* ignores whatever follows the end of the answer;
* lets answer text that came in the same read as an error go out first, the error
  being raised at the next call (the upstream closes after it), and shapes errors
  for the client's protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from ..errors import GatewayError
from ..usage import Usage
from .events import End, Error, MessageStart, ReasoningDelta, TextDelta, ToolCallDelta, UsageReport


class Decoder(Protocol):
    def feed(self, data: bytes) -> Iterable[Any]: ...

    def close(self) -> Any: ...


class EventTranslator(Protocol):
    """One upstream event → the neutral events it means (raise a GatewayError for an
    upstream error, or yield :class:`~.events.Error`); ``close`` at the end of the
    body: the last events, or an error when the answer is incomplete. A translator
    whose provider reports counts before the end may also have ``reported_usage()``:
    the counts seen so far (None: none yet)."""

    def event(self, upstream: Any) -> Iterable[Any]: ...

    def close(self) -> Iterable[Any]: ...


class Encoder(Protocol):
    # Event type → the function that encodes it (looked up here: one call per event).
    handlers: Mapping[type, Callable[[Any], bytes]]

    def encode(self, event: Any) -> bytes: ...

    def shaped(self, error: GatewayError) -> GatewayError: ...


_SPECIAL = frozenset({UsageReport, End, Error})
_TEXT = frozenset({TextDelta, ReasoningDelta, ToolCallDelta})


class TranslatedStream:
    def __init__(self, decoder: Decoder, translator: EventTranslator, encoder: Encoder) -> None:
        self._decoder = decoder
        self._translator = translator
        self._encoder = encoder
        self._ended = False
        self._error: GatewayError | None = None
        # The answer's token usage, once the upstream reported it.
        self.usage: Usage | None = None
        # Text deltas produced (not empty) and their characters: a cut stream's estimate.
        self.deltas = 0
        self.characters = 0

    def feed(self, data: bytes) -> bytes:
        if self._error is not None:
            raise self._error
        if self._ended:
            return b""
        out: list[bytes] = []
        content = False  # whether this read produced more than a message start
        deltas = characters = 0
        translate, handlers = self._translator.event, self._encoder.handlers
        try:
            for upstream in self._decoder.feed(data):
                for event in translate(upstream):
                    kind = type(event)
                    if kind in _SPECIAL:  # the rare ones: usage, end, error
                        content = self._take(event, out) or content
                    else:  # the hot path: one delta
                        out.append(handlers[kind](event))
                        content = content or kind is not MessageStart
                        if kind in _TEXT:
                            text = event.arguments if kind is ToolCallDelta else event.text
                            if text:
                                deltas += 1
                                characters += len(text)
                if self._ended:
                    break
        except GatewayError as error:
            if not content:
                raise self._encoder.shaped(error) from None
            self._error = self._encoder.shaped(error)
        if deltas:
            self.deltas += deltas
            self.characters += characters
        return b"".join(out)

    def partial_usage(self, input_estimate: int = 0) -> Usage:
        """What this stream used so far, for one cut short before its usage: the
        provider's counts where it reported them (Anthropic's and Gemini's input come
        early; output when it sends a running count), else ``input_estimate`` for the
        input, and for the output never less than one token per text delta nor than
        the characters produced ÷ 4 (providers that send several tokens per delta)."""
        reported = getattr(self._translator, "reported_usage", None)
        seen = reported() if reported is not None else None
        output = max(self.deltas, -(-self.characters // 4))
        if seen is None:
            return Usage(input=input_estimate, output=output, estimated=True)
        return Usage(
            input=seen.input or input_estimate, output=max(seen.output, output), cache_read=seen.cache_read,
            cache_write=seen.cache_write, reasoning=seen.reasoning, estimated=True,
        )

    def close(self) -> bytes:
        if self._error is not None:
            raise self._error
        out: list[bytes] = []
        try:
            self._decoder.close()
            if self._ended:
                return b""
            for event in self._translator.close():
                self._take(event, out)
        except GatewayError as error:
            raise self._encoder.shaped(error) from None
        if self._error is not None:
            raise self._error
        return b"".join(out)

    def _take(self, event: Any, out: list[bytes]) -> bool:
        """Encode one event; True when it is answer content (not a start)."""
        if self._ended:
            return False
        kind = type(event)
        if kind is Error:
            raise event.error
        if kind is UsageReport:
            self.usage = event.usage
        elif kind is End:
            self._ended = True
        out.append(self._encoder.encode(event))
        return kind is not MessageStart
