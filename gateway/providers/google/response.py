"""Gemini ``GenerateContentResponse`` → neutral events → OpenAI ``chat.completion`` (pure).

Shared with the stream translator: the finish-reason mapping, the usage object and
the blocked-prompt error.

* each candidate → a choice (``n`` > 1 asks for several); its text parts → content,
  thought parts (``thought: true``) → ``reasoning_content``, ``functionCall`` parts →
  ``tool_calls`` with generated ids (:mod:`.tool_ids`);
* ``usageMetadata`` → usage: ``promptTokenCount`` (which includes the cached part)
  → ``prompt_tokens``, ``cachedContentTokenCount`` → ``cached_tokens``,
  ``candidatesTokenCount`` + ``thoughtsTokenCount`` → ``completion_tokens`` (OpenAI
  counts reasoning inside it), ``thoughtsTokenCount`` → ``reasoning_tokens``;
* a prompt Gemini blocked (``promptFeedback.blockReason`` and no candidates) is a
  400 ``prompt_blocked``: there is no answer to give.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import BadRequest, GatewayError, UpstreamBroken
from ...translate.chat_completion import build_chat_completion
from ...translate.events import (
    Finish,
    MessageStart,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallStart,
    UsageReport,
)
from ...translate.openai_chunks import UsageShape
from ...usage import Usage
from .tool_ids import new_call_id

# The usage object this provider's OpenAI answers carry.
USAGE_SHAPE = UsageShape(reasoning_detail=True)

# Gemini finishReason → OpenAI finish_reason. Anything else (OTHER, LANGUAGE,
# MALFORMED_FUNCTION_CALL, added later) ends the answer: stop.
FINISH_REASONS = {
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def finish_reason(gemini_reason: str | None, *, called_tools: bool) -> str:
    reason = FINISH_REASONS.get(gemini_reason or "STOP", "stop")
    if called_tools and reason == "stop":
        return "tool_calls"
    return reason


def blocked_prompt(response: Mapping[str, Any]) -> GatewayError | None:
    """The error for a prompt Gemini refused to answer, or None."""
    feedback = response.get("promptFeedback")
    reason = feedback.get("blockReason") if isinstance(feedback, dict) else None
    if not reason or response.get("candidates"):
        return None
    return BadRequest(
        f"google blocked the prompt ({reason}): it gave no answer; rephrase the request or adjust safetySettings",
        code="prompt_blocked",
        param="messages",
    )


def function_call(part: Mapping[str, Any]) -> dict[str, Any] | None:
    """A ``functionCall`` part → an OpenAI tool call (id generated), or None."""
    call = part.get("functionCall")
    if not isinstance(call, dict):
        return None
    signature = part.get("thoughtSignature")
    return {
        "id": new_call_id(signature if isinstance(signature, str) else None),
        "type": "function",
        "function": {"name": call.get("name") or "", "arguments": orjson.dumps(call.get("args") or {}).decode()},
    }


def parse_response(body: bytes) -> dict[str, Any]:
    try:
        response = orjson.loads(body)
    except orjson.JSONDecodeError:
        response = None
    if not isinstance(response, dict):
        raise UpstreamBroken("google answered 2xx with a body that is not a GenerateContentResponse")
    return response


def completion_id(response: Mapping[str, Any]) -> str:
    response_id = response.get("responseId")
    return f"chatcmpl-{response_id}" if isinstance(response_id, str) and response_id else "chatcmpl-" + uuid.uuid4().hex


def response_events(response: Mapping[str, Any]) -> list[Any]:
    """A whole ``GenerateContentResponse`` → the neutral events of :mod:`gateway.translate.events`."""
    blocked = blocked_prompt(response)
    if blocked is not None:
        raise blocked
    candidates = response.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        raise UpstreamBroken("google answered 2xx without candidates or a block reason")
    answer_id, model = completion_id(response), response.get("modelVersion") or None
    events: list[Any] = []
    for position, candidate in enumerate(candidates):
        if not isinstance(candidate, dict):
            raise UpstreamBroken("google answered a candidate that is not an object")
        index = candidate.get("index") if isinstance(candidate.get("index"), int) else position
        events.append(MessageStart(answer_id, model, index))
        calls = 0
        for part in (candidate.get("content") or {}).get("parts") or ():
            if not isinstance(part, dict):
                continue
            call = function_call(part)
            if call is not None:
                events.append(ToolCallStart(calls, call["id"], call["function"]["name"], choice=index))
                events.append(ToolCallDelta(calls, call["function"]["arguments"], choice=index))
                calls += 1
            elif isinstance(part.get("text"), str):
                text = part["text"]
                events.append(ReasoningDelta(text, choice=index) if part.get("thought") else TextDelta(text, choice=index))
            # executableCode, inlineData (generated images) ... have no chat-completion form.
        events.append(Finish(finish_reason(candidate.get("finishReason"), called_tools=calls > 0), choice=index))
    events.append(UsageReport(Usage.from_gemini(response.get("usageMetadata") or {})))
    return events


def to_chat_completion(body: bytes, *, model: str, created: int | None = None) -> dict[str, Any]:
    events = response_events(parse_response(body))
    return build_chat_completion(events, model=model, usage_shape=USAGE_SHAPE, created=created)
