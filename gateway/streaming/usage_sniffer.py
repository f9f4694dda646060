"""Token usage, and the model's name, read on the side from bytes relayed untouched.

A passthrough answer is never parsed, delayed or copied for this. The relay hands
each chunk to :meth:`UsageSniffer.feed`, which keeps a *reference* to it while it is
among the first :data:`HEAD` or the last :data:`TAIL` bytes of the answer and returns
it as it was; when the answer has ended, :meth:`UsageSniffer.usage` looks for the
first and the last ``"usage": {...}`` object in those bytes. Providers put usage at
the end (OpenAI's last chunk with ``stream_options.include_usage``, the end of a JSON
answer, Anthropic's ``message_delta``) and sometimes at the start too (Anthropic's
``message_start`` carries the input counts), so the two windows see it however the
upstream split its chunks, and memory stays bounded (each window holds at most one
chunk more than its size).

Gemini names its counts ``"usageMetadata"`` (in every event of a stream, and in a
whole answer Google pretty-prints), Cohere's v2 ``"usage"`` holds ``billed_units`` and
``tokens``: :meth:`Usage.from_any` tells the dialects apart. Cohere's embed answers
have no usage object: their counts are in ``"meta": {"billed_units": {...}}``, read
only when an answer carried no usage object (one more search over the kept bytes).

The search reads raw JSON: inside a JSON string a quote is escaped, so
``"usage":{`` can only be a key. The first object and the last are merged, the last
one's counts winning (Anthropic's are cumulative); ``"usage": null`` (every chunk of
an OpenAI stream with include_usage) is skipped.
"""

from __future__ import annotations

import re
from collections import deque
from typing import Any

import orjson

from ..usage import Usage

# Bytes kept at the start of an answer (Anthropic's message_start is its first event)
# and at its end (a usage chunk is a few hundred bytes).
HEAD = 4096
TAIL = 8192

_USAGE_KEY = b'"usage":'
_GEMINI_KEY = b'"usageMetadata":'
_KEYS = (_USAGE_KEY, _GEMINI_KEY)
_COHERE_BILLED_KEY = b'"billed_units":'
# A JSON object with up to three levels of braces (OpenAI's *_details and Anthropic's
# cache_creation are two); possessive, so runs without braces are taken in one step.
_OBJECT = re.compile(rb"\{(?:[^{}]++|\{(?:[^{}]++|\{[^{}]*+\})*+\})*+\}")
# Gemini names the model that answered ``modelVersion``.
_MODEL = re.compile(rb'"model(?:Version)?"\s*:\s*"([^"\\]{1,200})"')
# The model is named in the first event or near the start of a JSON answer.
_MODEL_SEARCH_LIMIT = 4096


class UsageSniffer:
    __slots__ = ("_head", "_head_size", "_tail", "_tail_size", "_gap")

    def __init__(self) -> None:
        self._head: list[bytes] = []
        self._head_size = 0
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self._gap = False  # whether bytes between the two windows were let go

    def feed(self, chunk: bytes) -> bytes:
        """Note ``chunk`` (by reference) and give it back unchanged."""
        if self._head_size < HEAD:
            self._head.append(chunk)
            self._head_size += len(chunk)
            return chunk
        tail = self._tail
        tail.append(chunk)
        self._tail_size += len(chunk)
        while self._tail_size - len(tail[0]) >= TAIL:
            self._tail_size -= len(tail.popleft())
            self._gap = True
        return chunk

    def usage(self) -> Usage | None:
        """The answer's usage, once it has ended; None when it carried none."""
        if not self._gap:
            return usage_in(b"".join(self._head) + b"".join(self._tail))
        tail = b"".join(self._tail)
        return _merged(_first_usage(b"".join(self._head)), _last_usage(tail)[1]) or _billed_units(tail)


def usage_in(data: bytes) -> Usage | None:
    """The usage of a whole answer (JSON, SSE, or event-stream frames) in ``data``:
    its last usage object, merged over the first one near its start (Anthropic's input
    counts come first, its cumulative output counts last; others send one)."""
    last_at, last = _last_usage(data)
    if last is None:
        return _billed_units(data)
    first_at, length = _first_usage_at(data)
    if first_at < 0 or first_at == last_at:
        return Usage.from_any(last)
    return _merged(_object_at(data, first_at + length), last)


# A whole JSON answer up to this size is parsed once (about 1 us for a chat answer)
# rather than searched; a larger one (an embeddings answer) is searched from its end.
WHOLE_JSON_PARSED = 64 * 1024


def whole_json_answer(body: bytes) -> tuple[Usage | None, str | None]:
    """The usage and the model of a whole JSON answer: its top-level ``usage`` (or
    Gemini's ``usageMetadata``) and ``model`` (``modelVersion``), read with one parse
    of a small body; :func:`usage_in` and :func:`model_in` when the body is large, not
    a JSON object, or does not carry them at its top level."""
    found: Any = None
    if len(body) <= WHOLE_JSON_PARSED:
        try:
            found = orjson.loads(body)
        except orjson.JSONDecodeError:
            pass
    if type(found) is not dict:
        return usage_in(body), model_in(body)
    counts = found.get("usage")
    if type(counts) is not dict:
        counts = found.get("usageMetadata")
    usage = Usage.from_any(counts) if type(counts) is dict else None
    model = found.get("model")
    if type(model) is not str:
        model = found.get("modelVersion")
    return (
        usage if usage is not None else usage_in(body),
        model[:200] if type(model) is str and model else model_in(body),
    )


def model_in(first_chunk: bytes) -> str | None:
    """The model an answer names near its start (its first event, or a JSON answer's
    ``model`` key), or None."""
    match = _MODEL.search(first_chunk, 0, _MODEL_SEARCH_LIMIT)
    return match.group(1).decode("utf-8", "replace") if match else None


def _first_usage_at(data: bytes) -> tuple[int, int]:
    """Where the first usage key among the first HEAD bytes is (-1: none), and its
    length. Two searches in C skip the ``"usage": null`` of OpenAI's chunks without a
    Python step; Gemini's ``usageMetadata`` is never null."""
    at, length = -1, 0
    for found, key in (
        (data.find(b'"usage":{', 0, HEAD), _USAGE_KEY),
        (data.find(b'"usage": {', 0, HEAD), _USAGE_KEY),
        (data.find(_GEMINI_KEY, 0, HEAD), _GEMINI_KEY),
    ):
        if found >= 0 and (at < 0 or found < at):
            at, length = found, len(key)
    return at, length


def _first_usage(data: bytes) -> dict[str, Any] | None:
    at, length = _first_usage_at(data)
    return _object_at(data, at + length) if at >= 0 else None


def _last_usage(data: bytes) -> tuple[int, dict[str, Any] | None]:
    """The last usage object in ``data`` under either key, and where its key is."""
    found: tuple[int, dict[str, Any] | None] = (-1, None)
    for key in _KEYS:
        at = data.rfind(key)
        while at > found[0]:
            value = _object_at(data, at + len(key))
            if value is not None:
                found = (at, value)
                break
            at = data.rfind(key, 0, at)
    return found


def _billed_units(data: bytes) -> Usage | None:
    """Cohere's counts outside a usage object (``meta.billed_units`` of an embed answer)."""
    at = data.rfind(_COHERE_BILLED_KEY)
    while at >= 0:
        value = _object_at(data, at + len(_COHERE_BILLED_KEY))
        if value is not None:
            return Usage.from_cohere({"billed_units": value})
        at = data.rfind(_COHERE_BILLED_KEY, 0, at)
    return None


def _object_at(data: bytes, start: int) -> dict[str, Any] | None:
    if data[start : start + 1] == b" ":  # json.dumps' default separator, Google's too
        start += 1
    if data[start : start + 1] != b"{":
        return None
    match = _OBJECT.match(data, start)
    if match is None:
        return None  # cut by a window's edge, or nested deeper than a usage object is
    try:
        value = orjson.loads(match.group())
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _merged(first: dict[str, Any] | None, last: dict[str, Any] | None) -> Usage | None:
    if first is None or last is None:
        found = first or last
        return Usage.from_any(found) if found else None
    return Usage.from_any({**first, **last})
