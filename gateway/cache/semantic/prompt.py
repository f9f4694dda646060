"""What a semantic lookup compares, and what must match exactly around it.

A request is split in two:

* the **text** that is embedded: the last ``user`` message's content (OpenAI chat, and
  Anthropic's ``/v1/messages``, whose ``system`` is a parameter like any other), or
  the ``prompt`` string (legacy completions). A content given as parts (or Anthropic
  content blocks) is its ``text`` parts joined with a newline, in order; a part of any other type (an image, audio,
  a file) makes the request not semantically cacheable (its meaning is not in the
  text), and so does an empty text or one longer than :data:`MAX_TEXT_CHARS`
  (more than embedding models take);
* the **rest**: the body with that text left out (the message stays in its place,
  its other fields kept), so that the system prompt, earlier turns, the model and
  every parameter must be equal for two requests to share a bucket.

Only a request's JSON object body is read here; nothing is copied but the list of
messages (the caller's body is never changed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Beyond this many characters (about 8k tokens of English, the most OpenAI's
# embedding models take) a request is not embedded: the call would be refused.
MAX_TEXT_CHARS = 30_000
# How the text parts of one message are joined.
PART_SEPARATOR = "\n"

CHAT = "chat/completions"
MESSAGES = "messages"  # Anthropic's: the same messages, role and text blocks
COMPLETIONS = "completions"
ENDPOINTS = (CHAT, MESSAGES, COMPLETIONS)


@dataclass(frozen=True, slots=True)
class SemanticQuery:
    """The text to embed, and the body without it (what a bucket must match)."""

    text: str
    rest: dict[str, Any]


def semantic_query(endpoint: str, body: Mapping[str, Any] | None) -> SemanticQuery | None:
    """The request split for a semantic lookup; None when it cannot be one."""
    if not isinstance(body, Mapping):
        return None
    if endpoint in (CHAT, MESSAGES):
        return _chat(body)
    if endpoint == COMPLETIONS:
        return _completions(body)
    return None


def _chat(body: Mapping[str, Any]) -> SemanticQuery | None:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, Mapping) and message.get("role") == "user":
            break
    else:
        return None
    text = message_text(message.get("content"))
    if not _usable(text):
        return None
    rest_messages = list(messages)
    rest_messages[index] = {**message, "content": None}
    return SemanticQuery(text, {**body, "messages": rest_messages})


def _completions(body: Mapping[str, Any]) -> SemanticQuery | None:
    prompt = body.get("prompt")
    if not isinstance(prompt, str) or not _usable(prompt):
        return None  # a list of prompts asks for several answers: not one text
    return SemanticQuery(prompt, {**body, "prompt": None})


def message_text(content: Any) -> str | None:
    """A message's text: a string, or its ``text`` parts joined; None when it holds
    anything but text (or is not a content at all)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        return None
    texts = []
    for part in content:
        if not isinstance(part, Mapping) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            return None
        texts.append(part["text"])
    return PART_SEPARATOR.join(texts)


def _usable(text: str | None) -> bool:
    return text is not None and bool(text.strip()) and len(text) <= MAX_TEXT_CHARS
