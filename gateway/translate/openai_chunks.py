"""Emit OpenAI ``chat.completion.chunk`` server-sent events for a translated stream.

One instance per answer: every chunk carries the same ``id``, ``created`` and
``model``; the first content-bearing chunk is preceded by ``delta.role``; with
``include_usage`` every chunk has ``usage: null`` and :meth:`usage` adds the extra
``choices: []`` chunk before ``[DONE]``, as OpenAI does.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import orjson

DONE = b"data: [DONE]\n\n"


def sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


class ChatChunkStream:
    def __init__(
        self,
        *,
        model: str,
        include_usage: bool = False,
        completion_id: str | None = None,
        created: int | None = None,
        index: int = 0,
    ) -> None:
        self.model = model
        # The choice these chunks belong to: an answer of n choices is one stream
        # per choice, sharing id and created.
        self.index = index
        self.include_usage = include_usage
        self.id = completion_id or "chatcmpl-" + uuid.uuid4().hex
        self.created = int(time.time()) if created is None else created

    def _chunk(self, delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
        payload: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [{"index": self.index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
        }
        if self.include_usage:
            payload["usage"] = None
        return sse(payload)

    def role(self) -> bytes:
        return self._chunk({"role": "assistant", "content": ""})

    def content(self, text: str) -> bytes:
        return self._chunk({"content": text})

    def reasoning(self, text: str) -> bytes:
        # The field DeepSeek and most OpenAI-compatible servers use for thinking text.
        return self._chunk({"reasoning_content": text})

    def tool_call_start(self, index: int, call_id: str, name: str) -> bytes:
        return self._chunk(
            {
                "tool_calls": [
                    {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                ]
            }
        )

    def tool_call_arguments(self, index: int, fragment: str) -> bytes:
        return self._chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]})

    def finish(self, finish_reason: str) -> bytes:
        return self._chunk({}, finish_reason)

    def usage(self, usage: dict[str, Any]) -> bytes:
        """The usage chunk, only when the client asked for it (else nothing)."""
        if not self.include_usage:
            return b""
        return sse(
            {
                "id": self.id,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": [],
                "usage": usage,
            }
        )

    @staticmethod
    def done() -> bytes:
        return DONE
