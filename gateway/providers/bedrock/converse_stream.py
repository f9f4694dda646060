"""ConverseStream event frames → OpenAI ``chat.completion.chunk`` events, incrementally.

Events in order: ``messageStart`` → per block ``contentBlockStart`` (tool use only),
``contentBlockDelta`` (text, tool input pieces, reasoning), ``contentBlockStop`` →
``messageStop`` (the stop reason) → ``metadata`` (usage, after the stop). The finish
chunk goes out at ``messageStop``; the usage chunk and ``[DONE]`` at ``metadata``.
An exception frame raises the matching GatewayError; a stream that ends before both
``messageStop`` and ``metadata`` arrived raises too — it never ends with ``[DONE]``.

With ``answer_tool`` (``response_format``), that tool's input pieces go out as
content deltas, text deltas are left out, and a reply that only called it finishes
with ``stop``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import UpstreamBroken
from ...streaming.eventstream import EventStreamDecoder, Frame
from ...translate.openai_chunks import ChatChunkStream
from ...usage import Usage
from .converse_response import answer_finish, openai_usage
from .errors import frame_error


def event_of(frame: Frame) -> tuple[str, dict[str, Any]]:
    """A frame → (event name, payload); exception and error frames raise."""
    if frame.message_type != "event":
        raise frame_error(frame)
    try:
        payload = orjson.loads(frame.payload) if frame.payload else {}
    except orjson.JSONDecodeError:
        raise UpstreamBroken(
            f"bedrock sent a {frame.event_type} event that is not JSON", code="upstream_bad_frame"
        ) from None
    return frame.event_type or "", payload if isinstance(payload, dict) else {}


class ConverseChatStream:
    def __init__(self, model: str, include_usage: bool, answer_tool: str | None = None) -> None:
        self._decoder = EventStreamDecoder()
        self._answer_tool = answer_tool
        self._answer_blocks: dict[int, bool] = {}  # contentBlockIndex → some input sent
        self._chunks = ChatChunkStream(model=model, include_usage=include_usage)
        self._started = False
        self._tool_index: dict[int, int] = {}  # contentBlockIndex → OpenAI tool_calls index
        self._stopped = False
        self._done = False
        # The answer's token usage, once metadata has come (for the access log).
        self.usage: Usage | None = None

    def feed(self, data: bytes) -> bytes:
        out = []
        for frame in self._decoder.feed(data):
            name, payload = event_of(frame)
            out.append(self._event(name, payload))
        return b"".join(out)

    def close(self) -> bytes:
        self._decoder.close()
        if not self._done:
            missing = "metadata" if self._stopped else "messageStop"
            raise UpstreamBroken(
                f"bedrock stream ended before {missing}: the answer is incomplete", code="upstream_truncated"
            )
        return b""

    def _event(self, name: str, payload: dict[str, Any]) -> bytes:
        if self._done:
            return b""
        if name == "messageStart":
            return self._role()
        if name == "contentBlockStart":
            use = (payload.get("start") or {}).get("toolUse")
            if use is None:
                return b""
            if self._answer_tool is not None and use.get("name") == self._answer_tool:
                self._answer_blocks[payload.get("contentBlockIndex", 0)] = False
                return self._role()
            index = len(self._tool_index)
            self._tool_index[payload.get("contentBlockIndex", 0)] = index
            return self._role() + self._chunks.tool_call_start(index, use.get("toolUseId", ""), use.get("name", ""))
        if name == "contentBlockDelta":
            return self._delta(payload.get("contentBlockIndex", 0), payload.get("delta") or {})
        if name == "messageStop":
            self._stopped = True
            answered, called = bool(self._answer_blocks), bool(self._tool_index)
            finish = answer_finish(payload.get("stopReason"), answered=answered, called_client_tools=called)
            return self._role() + self._chunks.finish(finish)
        if name == "metadata":
            if not self._stopped:
                return b""  # usage arrives after messageStop; anything else is not the end
            self._done = True
            self.usage = Usage.from_converse(payload.get("usage") or {})
            return self._chunks.usage(openai_usage(payload.get("usage"))) + self._chunks.done()
        if name == "contentBlockStop" and self._answer_blocks.get(payload.get("contentBlockIndex", 0)) is False:
            return self._chunks.content("{}")  # an answer tool called without input pieces
        return b""  # contentBlockStop, and events added to the API later

    def _delta(self, block: int, delta: dict[str, Any]) -> bytes:
        if "text" in delta:
            if self._answer_tool is not None:
                return b""  # the content is the answer tool's JSON alone
            return self._role() + self._chunks.content(delta["text"])
        if "toolUse" in delta and block in self._answer_blocks:
            fragment = (delta["toolUse"] or {}).get("input", "")
            if not fragment:
                return b""
            self._answer_blocks[block] = True
            return self._chunks.content(fragment)
        if "toolUse" in delta:
            index = self._tool_index.get(block)
            if index is None:
                raise UpstreamBroken("bedrock sent tool input for a block it never started", code="upstream_bad_frame")
            return self._chunks.tool_call_arguments(index, (delta["toolUse"] or {}).get("input", ""))
        reasoning = delta.get("reasoningContent")
        if isinstance(reasoning, dict) and reasoning.get("text"):
            return self._role() + self._chunks.reasoning(reasoning["text"])
        return b""

    def _role(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._chunks.role()
