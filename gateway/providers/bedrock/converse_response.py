"""Bedrock Converse answer → neutral events → OpenAI ``chat.completion`` (and the pieces streams share).

With ``answer_tool`` (the tool standing in for ``response_format``), a call to that
tool is the answer: its input becomes the message content (text blocks left out, so
the content is exactly the requested JSON), and a reply that only called it
finishes with ``stop``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import UpstreamBroken
from ...translate.chat_completion import build_chat_completion
from ...translate.events import (
    BlockEnd,
    Finish,
    MessageStart,
    ReasoningDelta,
    RedactedReasoning,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)
from ...translate.openai_chunks import UsageShape
from ...usage import Usage

# The usage object this provider's OpenAI answers carry.
USAGE_SHAPE = UsageShape(cache_write_detail=True, reasoning_detail=True)

# Converse stopReason → OpenAI finish_reason.
FINISH_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return FINISH_REASONS.get(stop_reason or "", "stop")


def answer_finish(stop_reason: str | None, *, answered: bool, called_client_tools: bool) -> str:
    if stop_reason == "tool_use" and answered and not called_client_tools:
        return "stop"
    return finish_reason(stop_reason)


def neutral_finish(stop_reason: str | None, *, answered: bool, called_client_tools: bool) -> str:
    """The neutral finish reason (:mod:`gateway.translate.events`): OpenAI's, with
    ``stop_sequence`` kept apart."""
    if stop_reason == "stop_sequence":
        return "stop_sequence"
    return answer_finish(stop_reason, answered=answered, called_client_tools=called_client_tools)


def parse_json_object(body: bytes, what: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise UpstreamBroken(f"bedrock sent a {what} that is not a JSON object", code="upstream_bad_response")
    return parsed


def converse_events(answer: dict[str, Any], answer_tool: str | None = None, stop_sequences: tuple[str, ...] = ()) -> list[Any]:
    """A whole Converse answer → the neutral events of :mod:`gateway.translate.events`."""
    content = ((answer.get("output") or {}).get("message") or {}).get("content") or []
    blocks = [block for block in content if isinstance(block, dict)]
    answers = [
        block for block in blocks
        if "toolUse" in block and answer_tool is not None and block["toolUse"].get("name") == answer_tool
    ]
    events: list[Any] = [MessageStart()]
    calls = 0
    for index, block in enumerate(blocks):
        if "text" in block:
            if not answers:
                events.append(TextDelta(block["text"], index))
        elif "toolUse" in block:
            use = block["toolUse"]
            arguments = orjson.dumps(use.get("input", {})).decode()
            if answer_tool is not None and use.get("name") == answer_tool:
                events.append(TextDelta(arguments, index))
            else:
                events.append(ToolCallStart(calls, use.get("toolUseId"), use.get("name"), index))
                events.append(ToolCallDelta(calls, arguments, index))
                calls += 1
        elif "reasoningContent" in block:
            reasoning = block["reasoningContent"]
            if "redactedContent" in reasoning:
                events.append(RedactedReasoning(reasoning["redactedContent"], index))
            else:
                text = reasoning.get("reasoningText") or {}
                events.append(ReasoningDelta(text.get("text") or "", text.get("signature") or "", index))
        events.append(BlockEnd(index))
    reason = neutral_finish(answer.get("stopReason"), answered=bool(answers), called_client_tools=calls > 0)
    matched = matched_stop_sequence(reason, answer.get("additionalModelResponseFields"), stop_sequences)
    events.append(Finish(reason, matched))
    events.append(UsageReport(Usage.from_converse(answer.get("usage") or {})))
    return events


def converse_to_chat(body: bytes, model: str, answer_tool: str | None = None) -> bytes:
    answer = parse_json_object(body, "Converse answer")
    events = converse_events(answer, answer_tool)
    return orjson.dumps(build_chat_completion(events, model=model, usage_shape=USAGE_SHAPE))


def matched_stop_sequence(reason: str, additional: Any, stop_sequences: tuple[str, ...]) -> str | None:
    """The stop sequence a ``stop_sequence`` answer ended on: the model's own report
    (``additionalModelResponseFields.stop_sequence``), else the only one asked for."""
    if reason != "stop_sequence":
        return None
    matched = additional.get("stop_sequence") if isinstance(additional, dict) else None
    if isinstance(matched, str):
        return matched
    return stop_sequences[0] if len(stop_sequences) == 1 else None
