"""Neutral events → OpenAI ``chat.completion.chunk`` server-sent events.

One encoder per answer: every chunk carries the same ``id``, ``created`` and
``model`` (the first :class:`~.events.MessageStart` may name them; else a new id and
the requested model); each choice's first chunk is ``delta.role``; with
``include_usage`` every chunk has ``usage: null`` and :class:`~.events.End` adds the
extra ``choices: []`` usage chunk before ``[DONE]``, as OpenAI does.

Chunks are assembled from bytes prepared once per choice around the one part that
changes (the delta and the finish reason): the same bytes ``orjson.dumps`` writes
for the whole object, for a third of the cost.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import GatewayError
from ..usage import Usage
from .events import (
    BlockEnd,
    End,
    Error,
    Finish,
    MessageStart,
    ReasoningDelta,
    RedactedReasoning,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)

DONE = b"data: [DONE]\n\n"

# Neutral finish reasons → OpenAI's: only stop_sequence has no name of its own.
FINISH_REASONS = {"stop_sequence": "stop"}


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


@dataclass(frozen=True)
class UsageShape:
    """Which optional parts a provider's OpenAI ``usage`` object has carried so far
    (kept as it was: clients may read them)."""

    cached_detail: bool = True  # prompt_tokens_details.cached_tokens (and the details object)
    cache_write_detail: bool = False  # prompt_tokens_details.cache_write_tokens
    reasoning_detail: bool = False  # completion_tokens_details.reasoning_tokens
    anthropic_cache_names: bool = False  # cache_read_input_tokens, cache_creation_input_tokens


PLAIN_USAGE = UsageShape()


def openai_usage(usage: Usage, shape: UsageShape = PLAIN_USAGE) -> dict[str, Any]:
    """:class:`Usage` → OpenAI's ``usage`` object (``prompt_tokens`` counts cached input too)."""
    out: dict[str, Any] = {"prompt_tokens": usage.input, "completion_tokens": usage.output, "total_tokens": usage.total}
    if shape.cached_detail:
        prompt_details: dict[str, int] = {"cached_tokens": usage.cache_read}
        if shape.cache_write_detail:
            prompt_details["cache_write_tokens"] = usage.cache_write
        out["prompt_tokens_details"] = prompt_details
    if shape.reasoning_detail:
        out["completion_tokens_details"] = {"reasoning_tokens": usage.reasoning}
    if shape.anthropic_cache_names:
        out["cache_read_input_tokens"] = usage.cache_read
        out["cache_creation_input_tokens"] = usage.cache_write
    return out


class OpenAIChunkEncoder:
    def __init__(
        self,
        *,
        model: str,
        include_usage: bool = False,
        usage_shape: UsageShape = PLAIN_USAGE,
        completion_id: str | None = None,
        created: int | None = None,
    ) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = completion_id
        self.created = created
        self._usage_shape = usage_shape
        self._usage: Usage | None = None
        self._prefixes: dict[int, bytes] = {}  # choice → the chunk's bytes up to its delta
        self._tail = b',"logprobs":null,"finish_reason":null}]' + (b',"usage":null}\n\n' if include_usage else b"}\n\n")
        # The bytes around a content delta, per choice (the hot path: one concatenation).
        self._content: dict[int, tuple[bytes, bytes]] = {}
        # Event type → its encoding (the composition looks it up: one call per event).
        self.handlers: dict[type, Callable[[Any], bytes]] = {
            MessageStart: self._start,
            TextDelta: self._text,
            ReasoningDelta: self._reasoning,
            ToolCallStart: self._tool_start,
            ToolCallDelta: self._tool_arguments,
            Finish: self._finish,
            UsageReport: self._remember_usage,
            End: self._end,
            BlockEnd: _nothing,
            RedactedReasoning: _nothing,
            Error: _nothing,
        }

    def encode(self, event: Any) -> bytes:
        return self.handlers[type(event)](event)

    def shaped(self, error: GatewayError) -> GatewayError:
        return error  # the relay writes OpenAI-shaped errors already

    def _prefix(self, choice: int) -> tuple[bytes, bytes]:
        """(the bytes before a chunk's delta, the role chunk when the choice is new)."""
        prefix = self._prefixes.get(choice)
        if prefix is not None:
            return prefix, b""
        if self.id is None:
            self.id = "chatcmpl-" + uuid.uuid4().hex
        if self.created is None:
            self.created = int(time.time())
        prefix = (
            b'data: {"id":' + orjson.dumps(self.id) + b',"object":"chat.completion.chunk","created":'
            + str(self.created).encode() + b',"model":' + orjson.dumps(self.model)
            + b',"choices":[{"index":' + str(choice).encode() + b',"delta":'
        )
        self._prefixes[choice] = prefix
        self._content[choice] = (prefix + b'{"content":', b"}" + self._tail)
        return prefix, prefix + b'{"role":"assistant","content":""}' + self._tail

    def _chunk(self, choice: int, delta: bytes) -> bytes:
        prefix, role = self._prefix(choice)
        return role + prefix + delta + self._tail

    def _start(self, event: MessageStart) -> bytes:
        if event.choice in self._prefixes:
            return b""
        if not self._prefixes:  # the first choice names the answer
            self.id = event.id or self.id
            self.model = event.model or self.model
        return self._prefix(event.choice)[1]

    def _text(self, event: TextDelta) -> bytes:
        around = self._content.get(event.choice)
        if around is None:
            return self._chunk(event.choice, b'{"content":' + orjson.dumps(event.text) + b"}")
        return around[0] + orjson.dumps(event.text) + around[1]

    def _reasoning(self, event: ReasoningDelta) -> bytes:
        if not event.text:
            return b""  # a signature alone: OpenAI's format has no place for it
        # The field DeepSeek and most OpenAI-compatible servers use for thinking text.
        return self._chunk(event.choice, b'{"reasoning_content":' + orjson.dumps(event.text) + b"}")

    def _tool_start(self, event: ToolCallStart) -> bytes:
        call = {"index": event.call, "id": event.id or "", "type": "function", "function": {"name": event.name or "", "arguments": ""}}
        return self._chunk(event.choice, orjson.dumps({"tool_calls": [call]}))

    def _tool_arguments(self, event: ToolCallDelta) -> bytes:
        return self._chunk(
            event.choice,
            b'{"tool_calls":[{"index":' + str(event.call).encode() + b',"function":{"arguments":'
            + orjson.dumps(event.arguments) + b"}}]}",
        )

    def _finish(self, event: Finish) -> bytes:
        prefix, role = self._prefix(event.choice)
        reason = FINISH_REASONS.get(event.reason, event.reason)
        tail = b',"logprobs":null,"finish_reason":' + orjson.dumps(reason) + b"}]"
        return role + prefix + b"{}" + tail + (b',"usage":null}\n\n' if self.include_usage else b"}\n\n")

    def _remember_usage(self, event: UsageReport) -> bytes:
        self._usage = event.usage
        return b""

    def _end(self, event: End) -> bytes:
        if not self.include_usage:
            return DONE
        self._prefix(0)  # the id and created of an answer that sent nothing else
        usage = openai_usage(self._usage or Usage(), self._usage_shape)
        payload = {"id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model, "choices": [], "usage": usage}
        return sse(payload) + DONE


def _nothing(event: Any) -> bytes:
    return b""
