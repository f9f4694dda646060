"""``/v1/messages`` (Anthropic's protocol) in front of OpenAI-compatible upstreams
(the table, Azure OpenAI): an OpenAI chat body in the provider's
:class:`~gateway.translate.openai_request.ChatDialect`, the answer's JSON or chunks
back as Anthropic's message or events (Gemini's counterpart: ``google/messages.py``).
"""

from __future__ import annotations

from functools import partial

import orjson

from ..errors import MethodNotAllowed, NotFound
from ..translate.messages_answer import MessagesTranslator
from ..translate.openai_answer import OpenAIChunkEvents, completion_events, upstream_error
from ..translate.openai_request import ChatDialect, to_openai_chat
from .base import MESSAGES, Call


def is_messages_route(call: Call, provider: str) -> bool:
    """Whether the call is Anthropic's ``/v1/messages``; Anthropic's other
    ``/v1/messages/...`` endpoints (count_tokens, batches) are a clear 404 here."""
    if call.endpoint == MESSAGES:
        check_messages_call(call)
        return True
    if call.endpoint.startswith(MESSAGES + "/"):
        raise NotFound(
            f"provider {provider!r} does not serve /v1/{call.endpoint}: of Anthropic's API it serves /v1/{MESSAGES}",
            code="unsupported_endpoint",
        )
    return False


def check_messages_call(call: Call) -> None:
    if call.method != "POST":
        raise MethodNotAllowed(f"{call.method} /v1/{call.endpoint} is not allowed: use POST")


def openai_chat_body(call: Call, dialect: ChatDialect) -> bytes:
    return orjson.dumps(to_openai_chat(call.chat_request(), dialect))


def openai_messages_translator(call: Call) -> MessagesTranslator:
    request = call.chat_request()  # parsed when the request was translated
    return MessagesTranslator(
        request.model or "",
        upstream_error,
        partial(completion_events, stop_sequences=request.stop),
        partial(OpenAIChunkEvents, request.stop),
    )
