"""Neutral events of a whole answer → one OpenAI ``chat.completion`` object.

The one builder of the envelope, the message, the finish reason and the usage for
every translating provider: a provider turns its upstream body into the same
neutral events its stream translator yields (:mod:`.events`; one text delta per
text block, one argument piece per tool call), and this assembles them.

Per choice: ``content`` is the texts joined (None when there was no text at all),
``reasoning_content`` the thinking joined (only when there was some), ``tool_calls``
in their order. The first :class:`~.events.MessageStart` names the answer's id and
model (else a new id and the requested model).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..usage import Usage
from .events import Finish, MessageStart, ReasoningDelta, TextDelta, ToolCallDelta, ToolCallStart, UsageReport
from .openai_chunks import FINISH_REASONS, PLAIN_USAGE, UsageShape, openai_usage


@dataclass
class _Choice:
    texts: list[str] | None = None
    reasoning: list[str] = field(default_factory=list)
    calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    arguments: dict[int, list[str]] = field(default_factory=dict)
    finish: str = "stop"


def build_chat_completion(
    events: Iterable[Any],
    *,
    model: str | None,
    usage_shape: UsageShape = PLAIN_USAGE,
    created: int | None = None,
) -> dict[str, Any]:
    completion_id: str | None = None
    started = False
    usage = Usage()
    choices: dict[int, _Choice] = {}
    for event in events:
        kind = type(event)
        if kind is MessageStart:
            if not started:
                started = True
                completion_id, model = event.id or completion_id, event.model or model
            choices.setdefault(event.choice, _Choice())
            continue
        if kind is UsageReport:
            usage = event.usage
            continue
        choice = choices.get(getattr(event, "choice", 0))
        if choice is None:
            choice = choices[getattr(event, "choice", 0)] = _Choice()
        if kind is TextDelta:
            if choice.texts is None:
                choice.texts = []
            choice.texts.append(event.text)
        elif kind is ReasoningDelta:
            if event.text:
                choice.reasoning.append(event.text)
        elif kind is ToolCallStart:
            choice.calls[event.call] = {"id": event.id, "type": "function", "function": {"name": event.name, "arguments": ""}}
            choice.arguments[event.call] = []
        elif kind is ToolCallDelta:
            choice.arguments[event.call].append(event.arguments)
        elif kind is Finish:
            choice.finish = FINISH_REASONS.get(event.reason, event.reason)
    return {
        "id": completion_id or "chatcmpl-" + uuid.uuid4().hex,
        "object": "chat.completion",
        "created": int(time.time()) if created is None else created,
        "model": model,
        "choices": [_choice(index, choices[index]) for index in sorted(choices)],
        "usage": openai_usage(usage, usage_shape),
    }


def _choice(index: int, choice: _Choice) -> dict[str, Any]:
    texts = choice.texts
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) if texts is not None else None, "refusal": None}
    if choice.reasoning:
        message["reasoning_content"] = "".join(choice.reasoning)
    if choice.calls:
        for call, pieces in choice.arguments.items():
            choice.calls[call]["function"]["arguments"] = "".join(pieces)
        message["tool_calls"] = [choice.calls[call] for call in sorted(choice.calls)]
    return {"index": index, "message": message, "logprobs": None, "finish_reason": choice.finish}
