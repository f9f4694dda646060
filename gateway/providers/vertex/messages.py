"""Claude on Vertex for a ``/v1/messages`` client: the answer is already in
Anthropic's protocol, so it goes out as it came (a whole body, or the stream's bytes
untouched), read on the side for its usage; errors take Anthropic's shape.

A stream that ends before ``message_stop`` (and without an ``error`` event the
client already got) ends with an error event, never as a finished answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ...errors import GatewayError, UpstreamBroken
from ...streaming.sse import SSEDecoder
from ...translate.anthropic_errors import AnthropicShapedError
from ...translate.events import End, UsageReport
from ...usage import Usage
from ..anthropic.stream import MessagesEvents
from .errors import error_for


class ClaudeMessagesStream:
    """Anthropic SSE bytes out as they came in; the usage read from them."""

    def __init__(self) -> None:
        self._decoder = SSEDecoder()
        self._events = MessagesEvents()
        self._done = False  # message_stop, or an error event the client got
        self.usage: Usage | None = None

    def feed(self, data: bytes) -> bytes:
        if not self._done:
            try:
                for event in self._decoder.feed(data):
                    for neutral in self._events.event(event):
                        if type(neutral) is UsageReport:
                            self.usage = neutral.usage
                        elif type(neutral) is End:
                            self._done = True
            except GatewayError:
                self._done = True  # Claude's own error event: relayed as it is
        return data

    def close(self) -> bytes:
        if not self._done:
            raise AnthropicShapedError(
                UpstreamBroken("vertex-ai: Claude's stream ended before message_stop: the answer is incomplete")
            )
        return b""


@dataclass(frozen=True)
class ClaudeMessagesTranslator:
    model: str

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return AnthropicShapedError(error_for(status, body)).body()

    def body(self, body: bytes) -> bytes:
        return body

    def stream_translator(self) -> ClaudeMessagesStream:
        return ClaudeMessagesStream()
