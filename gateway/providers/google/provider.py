"""The Google provider (the Gemini API): what it serves, where, and with which key.

Client route → Gemini method, on ``{base}/v1beta/models/{model}``:

* ``POST /v1/chat/completions`` → ``:generateContent``, or
  ``:streamGenerateContent?alt=sse`` when ``stream: true``; OpenAI chat format in and
  out (request, whole answer, stream, errors);
* ``POST /v1/embeddings`` → ``:embedContent`` (one string) or ``:batchEmbedContents``
  (a list).

Anything else is a clear 404. The base is ``https://generativelanguage.googleapis.com``;
a custom host replaces it (without the ``/v1beta`` the gateway adds). The client's key
(``Authorization: Bearer`` or ``api_key`` in the config) goes in ``x-goog-api-key``.
A model may be written ``gemini-2.5-flash`` or ``models/gemini-2.5-flash``; a tuned
model as ``tunedModels/<name>``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

import orjson
from yarl import URL

from ...config import Target
from ...errors import BadRequest
from ...request_path import path_problem
from ...translate.messages_answer import MessagesTranslator
from ..base import Call, UpstreamRequest, bearer_key, join_url
from ..embeddings_translator import EmbeddingsTranslator
from ..translating import CHAT, EMBEDDINGS, MESSAGES, TranslatingProvider
from .embeddings import embed_operation, embeddings_request, embeddings_response
from .errors import translate_error
from .messages import gemini_messages_translator
from .request import model_of, to_generate_content
from .response import to_chat_completion
from .stream import ChatStreamTranslator

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
API_VERSION = "v1beta"


def resource(model: str) -> str:
    """``models/<id>`` or ``tunedModels/<id>``, each id one percent-encoded segment."""
    collection, slash, name = model.partition("/")
    if slash and collection == "tunedModels":
        return "tunedModels/" + _segment(name)
    return "models/" + _segment(model)


def _segment(name: str) -> str:
    # One encoded segment, but an upstream that decodes %2F would see "../..": refused
    # as the same escape in a /v1/ path is.
    if not name or path_problem("/" + name) is not None or any(ord(c) < 0x20 for c in name):
        raise BadRequest(f"model: {name!r} is not a Gemini model name", code="invalid_model", param="model")
    return quote(name, safe="-._~")


class Google(TranslatingProvider):
    name = "google"
    config_options = ()  # the key only (x-goog-api-key from the client's key)
    routes = (CHAT, EMBEDDINGS, MESSAGES)

    def upstream(self, call: Call, target: Target) -> tuple[URL, dict]:
        body = call.json or {}
        model = model_of(body)
        if call.endpoint == EMBEDDINGS:
            method, query, payload = embed_operation(body), "", embeddings_request(body, model)
        elif call.wants_stream:
            method, query, payload = "streamGenerateContent", "alt=sse", to_generate_content(call.chat_request())
        else:
            method, query, payload = "generateContent", "", to_generate_content(call.chat_request())
        url = join_url(target.custom_host or DEFAULT_BASE_URL, f"{API_VERSION}/{resource(model)}:{method}", query)
        return url, payload

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        request.headers["x-goog-api-key"] = bearer_key(target, self.name)

    def answer_translator(self, call: Call) -> ChatTranslator | EmbeddingsTranslator | MessagesTranslator:
        body = call.json or {}
        model = str(body.get("model", "")).removeprefix("models/")
        if call.endpoint == MESSAGES:
            return gemini_messages_translator(model)
        if call.endpoint == CHAT:
            return ChatTranslator(model=model, include_usage=call.chat_request().include_usage)
        return EmbeddingsTranslator(embeddings_response, translate_error, model, body.get("encoding_format"))


@dataclass(frozen=True)
class ChatTranslator:
    """Answers to a translated chat call, back in OpenAI's format."""

    model: str
    include_usage: bool

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return translate_error(status, body)

    def body(self, body: bytes) -> bytes:
        return orjson.dumps(to_chat_completion(body, model=self.model))

    def stream_translator(self) -> ChatStreamTranslator:
        return ChatStreamTranslator(model=self.model, include_usage=self.include_usage)
