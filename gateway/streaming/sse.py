"""A sans-IO decoder for server-sent events (the WHATWG ``text/event-stream`` format).

Bytes go in as the network delivers them, in any split; whole events come out::

    decoder = SSEDecoder()
    for chunk in chunks:
        for event in decoder.feed(chunk):
            ...
    decoder.close()

Lines end with ``\\r\\n``, ``\\r`` or ``\\n`` and nothing else (``str.splitlines`` would
also split on form feeds, ``\\x85``, ``\\u2028`` ... that JSON strings may carry). A
``\\r`` at the end of a chunk ends its line at once; a ``\\n`` starting the next chunk
is then the rest of that ``\\r\\n``, not an empty line. Splitting is done on bytes (the
terminators are ASCII, so never inside a UTF-8 sequence) and each whole line is
decoded, so a character split across chunks is never mangled.

An event still unfinished after ``MAX_EVENT_BYTES`` (its data lines so far, plus a
line without its end) is a broken upstream, a 502 ``upstream_protocol_error``: junk
without line ends, or ``data:`` lines without the blank line that ends the event,
would otherwise be held in memory without limit while the client waits. (Lines that
are not kept — comments, unknown fields — cost no memory; an upstream sending only
those is silent, which the relay's idle deadline handles.)
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UpstreamBroken

_BOM = "\ufeff"

# The largest event the decoders hold while it is unfinished (the SSE decoder and
# the event-stream one). Real events are a few KiB at most.
MAX_EVENT_BYTES = 1024 * 1024


def event_too_large(what: str) -> UpstreamBroken:
    return UpstreamBroken(
        f"upstream sent {what} still unfinished after 1 MiB: not a stream this gateway can read",
        code="upstream_protocol_error",
    )


@dataclass(frozen=True)
class Event:
    """One dispatched event. ``event`` is ``"message"`` when the stream named none;
    ``id`` is the last event id seen so far (it persists across events, per the spec)."""

    event: str
    data: str
    id: str | None = None


class SSEDecoder:
    def __init__(self) -> None:
        self._buffer = bytearray()
        # The previous chunk ended with "\r": a "\n" at the start of the next one belongs to it.
        self._after_cr = False
        self._first_line = True
        self._event_type = ""
        self._data: list[str] = []
        self._last_id: str | None = None
        # Whether close() found an event (or a line) that its stream never finished.
        self.incomplete = False

    def feed(self, chunk: bytes) -> list[Event]:
        """The events completed by ``chunk``."""
        if not chunk:
            return []
        if self._after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]
        self._after_cr = False
        self._buffer += chunk
        events: list[Event] = []
        start = 0
        buffer = self._buffer
        end = len(buffer)
        while start < end:
            cr = buffer.find(b"\r", start)
            lf = buffer.find(b"\n", start)
            if cr == -1 and lf == -1:
                break
            if cr != -1 and (lf == -1 or cr < lf):
                line_end = cr
                if cr + 1 < end:
                    next_start = cr + 2 if buffer[cr + 1] == 0x0A else cr + 1
                else:
                    next_start = cr + 1
                    self._after_cr = True
            else:
                line_end, next_start = lf, lf + 1
            event = self._line(bytes(buffer[start:line_end]).decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
            start = next_start
        del buffer[:start]
        # What is held for the event in progress: its data lines and an unended line.
        # Between chunks that is almost always nothing, so this costs two checks.
        if len(buffer) > MAX_EVENT_BYTES or (
            self._data and len(buffer) + sum(map(len, self._data)) > MAX_EVENT_BYTES
        ):
            raise event_too_large("an event")
        return events

    def close(self) -> list[Event]:
        """End of the stream. Per the spec an event without its closing blank line is
        dropped, never dispatched; ``incomplete`` tells whether that happened."""
        self.incomplete = bool(self._buffer) or bool(self._data) or bool(self._event_type)
        self._buffer.clear()
        self._data = []
        self._event_type = ""
        return []

    def _line(self, line: str) -> Event | None:
        if self._first_line:
            self._first_line = False
            if line.startswith(_BOM):
                line = line[1:]
        if not line:
            return self._dispatch()
        if line[0] == ":":
            return None  # a comment: keep-alives use these
        name, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event_type = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        # "retry" and unknown fields are ignored: reconnection is not ours to do.
        return None

    def _dispatch(self) -> Event | None:
        event_type, data = self._event_type, self._data
        self._event_type, self._data = "", []
        if not data:
            return None  # the spec dispatches nothing for an event without data
        return Event(event_type or "message", "\n".join(data), self._last_id)
