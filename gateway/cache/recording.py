"""What a relayed answer leaves for the cache: its chunks as written, and its headers.

The relay appends each piece it writes to a :class:`Recording`; once the answer
has ended cleanly, :func:`recorded_entry` makes the entry. Headers that describe
the live upstream call, not the answer, are not kept: rate limits (the upstream's
and the gateway's), request ids (they name a call this request did not make; the
body's own ``id`` is part of the answer and replayed), retry hints, processing
times, and the gateway's own per-request headers (``x-portkey-*``, overhead).
"""

from __future__ import annotations

from aiohttp import web

from ..hop_by_hop import HOP_BY_HOP
from ..response_headers import REQUEST_ID_HEADERS, RETRY_HINT_HEADERS
from ..streaming.result import RelayResult
from .entry import CachedAnswer

LIVE_CALL_HEADERS = HOP_BY_HOP | {
    "content-length",
    "date",
    "server",
    *REQUEST_ID_HEADERS,  # this call's, not the replay's
    *RETRY_HINT_HEADERS,
    "openai-processing-ms",
    "x-amzn-bedrock-invocation-latency",
    "x-gateway-overhead-ms",
    # The relay sets these two on every event stream, a replay too.
    "cache-control",
    "x-accel-buffering",
}
LIVE_CALL_PREFIXES = ("x-ratelimit-", "anthropic-ratelimit-", "x-portkey-")
_EVENT_ENDS = (b"\n\n", b"\r\n\r\n", b"\r\r")


class Recording:
    """The pieces of a streamed answer, up to ``limit`` bytes (then nothing is kept)."""

    __slots__ = ("chunks", "limit", "size")

    def __init__(self, limit: int) -> None:
        self.chunks: list[bytes] | None = []
        self.limit = limit
        self.size = 0

    def append(self, data: bytes) -> None:
        if self.chunks is None:
            return
        self.size += len(data)
        if self.size > self.limit:
            self.chunks = None  # too large to keep: stop holding it at once
            return
        self.chunks.append(data)


def recorded_entry(response: web.StreamResponse, result: RelayResult, now: float) -> CachedAnswer | None:
    """The entry for an answer the relay finished, or None when it must not be kept:
    not a 2xx, cut short (an error event, a client that left), too large, or an
    event stream that did not end on an event's end."""
    if not 200 <= response.status < 300:
        return None
    if isinstance(response, web.Response):  # whole: its body is right here
        body = response.body
        if not isinstance(body, (bytes, bytearray)):
            return None
        recording = result.recording
        if recording is not None and len(body) > recording.limit:
            return None
        chunks = (bytes(body),) if body else ()
    else:
        recording = result.recording
        if result.stream_error is not None or result.client_gone or recording is None or recording.chunks is None:
            return None
        chunks = tuple(recording.chunks)
        if response.content_type == "text/event-stream" and chunks and not chunks[-1].endswith(_EVENT_ENDS):
            return None
    return CachedAnswer(response.status, stored_headers(response.headers), chunks, now)


def stored_headers(headers) -> tuple[tuple[str, str], ...]:
    return tuple(
        (name, value)
        for name, value in headers.items()
        if (lower := name.lower()) not in LIVE_CALL_HEADERS and not lower.startswith(LIVE_CALL_PREFIXES)
    )
