"""``/v1/messages`` (Anthropic's protocol) in front of Gemini (``google``, and Gemini
models on ``vertex-ai``): the request is the provider's own Gemini translation of the
typed request (``Call.chat_request`` parses the Messages body), and the answer's
events go back as Anthropic's message or events; errors keep their status.
"""

from __future__ import annotations

from typing import Any

from ...translate.messages_answer import MessagesTranslator
from .errors import error_for
from .response import parse_response, response_events
from .stream import GeminiEvents


def _gemini_events(body: bytes) -> list[Any]:
    return response_events(parse_response(body))


def gemini_messages_translator(model: str) -> MessagesTranslator:
    return MessagesTranslator(model, lambda status, headers, body: error_for(status, body), _gemini_events, GeminiEvents)
