"""AWS event-stream frames (``application/vnd.amazon.eventstream``), sans-IO.

A thin adapter over botocore's own parser, ``botocore.eventstream.EventStreamBuffer``,
which checks both CRCs of every frame: bytes go in as the network delivers them,
whole frames come out. A frame that fails its checksum, or bytes left over when the
stream ends, are a broken upstream (502), never silently dropped. A frame still
incomplete past ``MAX_EVENT_BYTES`` (1 MiB; botocore itself would wait for 24 MiB) is
a 502 ``upstream_protocol_error`` rather than memory held while the client waits.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.eventstream import EventStreamBuffer, ParserError

from ..errors import UpstreamBroken
from .sse import MAX_EVENT_BYTES, event_too_large


@dataclass(frozen=True)
class Frame:
    """One decoded frame: its headers (``:message-type``, ``:event-type``, ...) and payload."""

    headers: Mapping[str, Any]
    payload: bytes

    @property
    def message_type(self) -> str:
        # AWS omits nothing here in practice; "event" is the protocol's default meaning.
        return self.headers.get(":message-type", "event")

    @property
    def event_type(self) -> str | None:
        return self.headers.get(":event-type")

    @property
    def exception_type(self) -> str | None:
        return self.headers.get(":exception-type")


class EventStreamDecoder:
    """``feed(bytes) -> [Frame]`` as frames complete; ``close()`` at the end of the body."""

    def __init__(self) -> None:
        self._buffer = EventStreamBuffer()
        self._pending = 0  # bytes fed but not yet consumed by a whole frame

    def feed(self, data: bytes) -> list[Frame]:
        if not data:
            return []
        self._buffer.add_data(data)
        self._pending += len(data)
        frames = []
        try:
            for message in self._buffer:
                self._pending -= message.prelude.total_length
                frames.append(Frame(message.headers, message.payload))
        except ParserError as exc:
            raise UpstreamBroken(
                f"upstream sent a corrupt event-stream frame ({type(exc).__name__})",
                code="upstream_bad_frame",
            ) from None
        if self._pending > MAX_EVENT_BYTES:
            raise event_too_large("an event-stream frame")
        return frames

    def close(self) -> None:
        """Raise when the body ended in the middle of a frame."""
        if self._pending:
            raise UpstreamBroken(
                f"upstream event stream ended inside a frame ({self._pending} bytes left over)",
                code="upstream_truncated",
            )
