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

from ...config import Target
from ...errors import BadRequest, MethodNotAllowed, NotFound
from ..base import Call, UpstreamRequest, bearer_key, forwarded_headers, join_url, refuse_responses
from ..embeddings_translator import EmbeddingsTranslator
from .embeddings import embed_request, embed_response
from .errors import translate_error
from .request import to_chat_request
from .response import to_chat_completion
from .stream import ChatStreamTranslator

DEFAULT_BASE_URL = "https://api.cohere.com"
CHAT = "chat/completions"
EMBEDDINGS = "embeddings"


class Cohere:
    name = "cohere"
    config_options = ()  # the key only

    def needs_body(self, call: Call) -> bool:
        return call.endpoint in (CHAT, EMBEDDINGS)

    def prepare(self, call: Call, target: Target) -> UpstreamRequest:
        refuse_responses(call, self.name)
        if call.endpoint not in (CHAT, EMBEDDINGS):
            raise NotFound(
                f"provider 'cohere' does not serve /v1/{call.endpoint}: it serves /v1/{CHAT} and /v1/{EMBEDDINGS}",
                code="unsupported_endpoint",
            )
        if call.method != "POST":
            raise MethodNotAllowed(f"{call.method} /v1/{call.endpoint} is not allowed: use POST")
        body = call.json or {}
        if call.endpoint == EMBEDDINGS:
            if call.wants_stream:
                raise BadRequest("stream: embeddings are not streamed", code="invalid_value", param="stream")
            path, payload = "v2/embed", embed_request(body)
        else:
            path, payload = "v2/chat", to_chat_request(call.chat_request())
        headers = forwarded_headers(call, target)
        headers.popall("openai-beta", None)
        headers["content-type"] = "application/json"
        headers["accept"] = "text/event-stream" if call.wants_stream else "application/json"
        url = join_url(target.custom_host or DEFAULT_BASE_URL, path, "")
        return UpstreamRequest("POST", url, headers, orjson.dumps(payload))

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        request.headers["Authorization"] = "Bearer " + bearer_key(target, self.name)

    def translator(self, call: Call):
        body = call.json or {}
        model = str(body.get("model", ""))
        if call.endpoint == EMBEDDINGS:
            return EmbeddingsTranslator(embed_response, translate_error, model, body.get("encoding_format"))
        if call.endpoint != CHAT:
            return None
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
