"""Asking a passthrough stream for its usage, and hiding the answer from a client that
did not ask (keys with token limits or budgets must be charged what a stream used).

:func:`ask_for_stream_usage` adds ``stream_options.include_usage`` to a streamed chat
request the client sent without it; :class:`UsageChunkFilter` then drops the one
extra event OpenAI-compatible upstreams send for it (``"choices": []`` with a
``usage`` object), so the client sees the events it asked for. The usage sniffer
reads the chunks before the filter, so the usage is still counted.

The filter never holds more than the current, incomplete event: every complete event
goes out at once.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from ..config import RouteSpec
from ..providers.base import Call
from ..providers.registry import get_provider

# Set by the limits middleware: this request's usage must be counted.
NEEDS_USAGE = web.RequestKey("needs_stream_usage", bool)


class UsageChunkFilter:
    """SSE bytes in, the same bytes out without the usage-only event."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._partial + chunk if self._partial else chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self._partial = data
            return b""
        complete, self._partial = data[: end + 2], data[end + 2 :]
        if b'"usage":{' not in complete and b'"usage": {' not in complete:
            return complete  # the common case: nothing to drop, no copy
        return b"".join(event for event in _events(complete) if not _is_usage_only(event))

    def close(self) -> bytes:
        rest, self._partial = self._partial, b""
        return b"" if _is_usage_only(rest) else rest


def _events(data: bytes):
    start = 0
    while start < len(data):
        end = data.find(b"\n\n", start)
        end = len(data) if end < 0 else end + 2
        yield data[start:end]
        start = end


def _is_usage_only(event: bytes) -> bool:
    if not event.startswith(b"data:") or b'"usage"' not in event:
        return False
    try:
        payload = orjson.loads(event[5:].strip())
    except orjson.JSONDecodeError:
        return False
    return isinstance(payload, dict) and payload.get("choices") == [] and isinstance(payload.get("usage"), dict)


USAGE_FILTER = web.RequestKey("usage_chunk_filter", UsageChunkFilter)


def ask_for_stream_usage(request: web.Request, call: Call, route: RouteSpec) -> None:
    """Handler hook: when the request's usage must be counted and it streams from
    OpenAI-compatible upstreams without asking for usage, ask for it (and filter)."""
    if not request.get(NEEDS_USAGE) or call.json is None or call.json.get("stream") is not True:
        return
    options = call.json.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        return
    if any(get_provider(leaf.target.provider).needs_body(call) for leaf in route.leaves):
        return  # translated answers carry their usage anyway
    call.json = {**call.json, "stream_options": {**(options if isinstance(options, dict) else {}), "include_usage": True}}
    call.body = orjson.dumps(call.json)
    request[USAGE_FILTER] = UsageChunkFilter()
