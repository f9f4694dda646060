"""A cached whole chat completion, served to a request that asks for a stream.

OpenAI's chat completions protocol can carry any whole answer as a stream: per choice
one chunk with the whole message as its ``delta`` (role, content, refusal, tool calls
with their index), then one with its ``finish_reason``; the ``usage`` chunk
(``choices: []``) when the client asked for it; ``data: [DONE]``. Every chunk keeps
the answer's ``id``, ``created``, ``model`` and ``system_fingerprint``. The text
arrives in one piece rather than token by token: it is the same answer, delivered at
once.

Only OpenAI's ``chat/completions`` (whatever the provider behind it, translated or
not), and only an answer of the shape the protocol knows (``object:
"chat.completion"``); anything else stays a miss. Anthropic's ``/v1/messages`` and
the other endpoints are not converted: their streams carry ids and per-event fields
no whole answer has. A stream asked as a whole answer is never assembled from chunks.
"""

from __future__ import annotations

from typing import Any

import orjson

from .entry import CachedAnswer

ENDPOINT = "chat/completions"
_CHUNK_KEYS = ("id", "created", "model", "system_fingerprint", "service_tier")
_DELTA_KEYS = ("role", "content", "refusal", "tool_calls")


def whole_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body of the same request asked as a whole answer."""
    return {key: value for key, value in body.items() if key not in ("stream", "stream_options")}


def as_stream(entry: CachedAnswer, *, include_usage: bool) -> CachedAnswer | None:
    """The whole answer ``entry`` as an event stream, or None when it cannot be one."""
    if entry.status != 200 or len(entry.chunks) > 1:
        return None
    try:
        answer = orjson.loads(entry.chunks[0]) if entry.chunks else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(answer, dict) or answer.get("object") != "chat.completion":
        return None
    choices = answer.get("choices")
    if not isinstance(choices, list) or not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        return None
    base = {key: answer[key] for key in _CHUNK_KEYS if key in answer}
    base["object"] = "chat.completion.chunk"

    def chunk(choices: list, **extra) -> bytes:
        payload = {**base, "choices": choices, **extra}
        if include_usage and "usage" not in extra:
            payload["usage"] = None
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    events = []
    for position, choice in enumerate(choices):
        index = choice.get("index", position)
        message = choice["message"]
        delta = {key: message[key] for key in _DELTA_KEYS if message.get(key) is not None}
        if "tool_calls" in delta:
            delta["tool_calls"] = [
                {"index": number, **call} if isinstance(call, dict) else call
                for number, call in enumerate(delta["tool_calls"])
            ]
        start = {"index": index, "delta": delta, "logprobs": choice.get("logprobs"), "finish_reason": None}
        events.append(chunk([start]))
        events.append(chunk([{"index": index, "delta": {}, "logprobs": None, "finish_reason": choice.get("finish_reason")}]))
    if include_usage and isinstance(answer.get("usage"), dict):
        events.append(chunk([], usage=answer["usage"]))
    events.append(b"data: [DONE]\n\n")
    headers = tuple((name, value) for name, value in entry.headers if name.lower() != "content-type")
    return CachedAnswer(200, (("Content-Type", "text/event-stream; charset=utf-8"), *headers), tuple(events), entry.stored_at)
