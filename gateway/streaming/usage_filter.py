"""Asking a passthrough stream for its usage, and hiding the answer from a client that
did not ask (keys with token limits or budgets must be charged what a stream used).

:func:`ask_for_stream_usage` adds ``stream_options.include_usage`` to a streamed chat
request the client sent without it; :class:`UsageChunkFilter` then drops the one
extra event OpenAI-compatible upstreams send for it (``"choices": []`` with a
``usage`` object), so the client sees the events it asked for. The usage sniffer
reads the chunks before the filter, so the usage is still counted.

The filter never holds more than the current, incomplete event: every complete event
goes out at once.

**A stream cut short is charged an estimate.** A client that hangs up (or an upstream
that dies) before the usage event leaves no count, so every streamed request of a key
with token limits gets a filter (stripping nothing when the client asked for usage
itself) that counts what was relayed:

- output tokens: one per relayed delta event with text (``content``,
  ``reasoning_content`` or tool-call ``arguments`` not empty). OpenAI and most
  compatible servers send one token per event; servers that send several make this a
  floor.
- input tokens: the characters of the request's message text (and tool definitions)
  divided by 4, rounded up (OpenAI's rule of thumb for English).

Translated streams (Anthropic, Bedrock, Gemini, ...) count their own deltas and take
the provider's early counts (``streaming/cut_usage.py``); their filter only lends the
input estimate. A stream that ended with its usage is charged that usage, never the
estimate.
"""

from __future__ import annotations

import orjson
from aiohttp import web

from ..config import RouteSpec
from ..providers.base import Call
from ..providers.registry import get_provider
from ..request_keys import preset
from ..usage import Usage

# Set by the limits middleware: this request's usage must be counted.
NEEDS_USAGE = web.RequestKey("needs_stream_usage", bool)


class UsageChunkFilter:
    """SSE bytes in, the same bytes out without the usage-only event (``strip``), and
    the number of text deltas relayed (:attr:`deltas`)."""

    def __init__(self, *, strip: bool = True, input_estimate: int = 0) -> None:
        self.strip = strip
        self.input_estimate = input_estimate
        self.deltas = 0
        self._partial = b""

    def feed(self, chunk: bytes) -> bytes:
        data = self._partial + chunk if self._partial else chunk
        end = data.rfind(b"\n\n")
        if end < 0:
            self._partial = data
            return chunk if not self.strip else b""
        complete, self._partial = data[: end + 2], data[end + 2 :]
        self.deltas += _deltas_in(complete)
        if not self.strip:
            return chunk  # passed on at once; the partial event is kept for counting only
        if b'"usage":{' not in complete and b'"usage": {' not in complete:
            return complete  # the common case: nothing to drop, no copy
        return b"".join(event for event in _events(complete) if not _is_usage_only(event))

    def close(self) -> bytes:
        rest, self._partial = self._partial, b""
        self.deltas += _deltas_in(rest)
        if not self.strip:
            return b""
        return b"" if _is_usage_only(rest) else rest

    def estimated_usage(self) -> Usage:
        """What was streamed, for a stream that ended without its usage."""
        return Usage(input=self.input_estimate, output=self.deltas, estimated=True)


# A text delta starts one of these strings; inside a JSON string a quote is escaped,
# so each match is a key. The empty ones (a role chunk's "content":"") do not count.
_DELTA_KEYS = (b'"content":"', b'"reasoning_content":"', b'"arguments":"')
_DELTA_KEYS = _DELTA_KEYS + tuple(key.replace(b":", b": ") for key in _DELTA_KEYS)  # json.dumps' spacing


def _deltas_in(data: bytes) -> int:
    count = 0
    for key in _DELTA_KEYS:
        found = data.count(key)
        if found:
            count += found - data.count(key + b'"')
    return count


def estimate_input_tokens(body: dict) -> int:
    """The request's text (messages, tools) in characters ÷ 4, rounded up."""
    characters = 0
    for message in body.get("messages") or ():
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            characters += len(content)
        elif isinstance(content, list):
            characters += sum(len(part["text"]) for part in content
                              if isinstance(part, dict) and isinstance(part.get("text"), str))
    if body.get("tools"):
        characters += len(orjson.dumps(body["tools"]))
    return -(-characters // 4)


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


USAGE_FILTER = preset(web.RequestKey("usage_chunk_filter", UsageChunkFilter))  # None: no usage event to drop


def ask_for_stream_usage(request: web.Request, call: Call, route: RouteSpec) -> None:
    """Handler hook: when the request's usage must be counted and it streams, count
    what is relayed (for a stream cut short); from OpenAI-compatible upstreams, ask for
    the usage the client did not ask for (and filter it out)."""
    if not request.get(NEEDS_USAGE) or call.json is None or call.json.get("stream") is not True:
        return
    estimate = estimate_input_tokens(call.json)
    options = call.json.get("stream_options")
    if isinstance(options, dict) and options.get("include_usage"):
        request[USAGE_FILTER] = UsageChunkFilter(strip=False, input_estimate=estimate)
        return
    if any(get_provider(leaf.target.provider).needs_body(call) for leaf in route.leaves):
        # Translated answers carry their usage (their translator counts a cut one's deltas).
        request[USAGE_FILTER] = UsageChunkFilter(strip=False, input_estimate=estimate)
        return
    call.json = {**call.json, "stream_options": {**(options if isinstance(options, dict) else {}), "include_usage": True}}
    call.body = orjson.dumps(call.json)
    request[USAGE_FILTER] = UsageChunkFilter(input_estimate=estimate)
