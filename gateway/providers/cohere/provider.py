"""The Cohere provider (API v2): what it serves, where, and with which key.

* ``POST /v1/chat/completions`` → ``POST {base}/v2/chat``, OpenAI chat format in and
  out (request, whole answer, typed-event stream, errors);
* ``POST /v1/embeddings`` → ``POST {base}/v2/embed`` (float embeddings).

Anything else is a clear 404. The base is ``https://api.cohere.com``; a custom host
replaces it (the gateway adds ``/v2``). The key goes in ``Authorization: Bearer``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import orjson
from yarl import URL

from ...config import Target
from ..base import Call, UpstreamRequest, bearer_key, join_url
from ..embeddings_translator import EmbeddingsTranslator
from ..translating import EMBEDDINGS, TranslatingProvider
from .embeddings import embed_request, embed_response
from .errors import translate_error
from .request import to_chat_request
from .response import to_chat_completion
from .stream import ChatStreamTranslator

DEFAULT_BASE_URL = "https://api.cohere.com"


class Cohere(TranslatingProvider):
    name = "cohere"
    config_options = ()  # the key only

    def upstream(self, call: Call, target: Target) -> tuple[URL, dict]:
        body = call.json or {}
        if call.endpoint == EMBEDDINGS:
            path, payload = "v2/embed", embed_request(body)
        else:
            path, payload = "v2/chat", to_chat_request(call.chat_request())
        return join_url(target.custom_host or DEFAULT_BASE_URL, path, ""), payload

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        request.headers["Authorization"] = "Bearer " + bearer_key(target, self.name)

    def answer_translator(self, call: Call):
        body = call.json or {}
        model = str(body.get("model", ""))
        if call.endpoint == EMBEDDINGS:
            return EmbeddingsTranslator(embed_response, translate_error, model, body.get("encoding_format"))
        # The request was translated (and so parsed and checked) before this is called.
        return ChatTranslator(model, call.chat_request().include_usage)


@dataclass(frozen=True)
class ChatTranslator:
    model: str
    include_usage: bool

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return translate_error(status, body)

    def body(self, body: bytes) -> bytes:
        return orjson.dumps(to_chat_completion(body, self.model))

    def stream_translator(self) -> ChatStreamTranslator:
        return ChatStreamTranslator(model=self.model, include_usage=self.include_usage)
