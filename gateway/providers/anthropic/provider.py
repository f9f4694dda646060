"""The Anthropic provider: what it serves, where, and with which headers.

* ``/v1/chat/completions`` is translated: OpenAI request → Messages request, and the
  answer (whole, streamed, or an error) back to OpenAI's format.
* Anthropic's own endpoints (``/v1/messages``, ``/v1/messages/count_tokens``,
  ``/v1/messages/batches``, ``/v1/models``, ``/v1/complete``) are relayed as bytes,
  body streamed both ways: the Anthropic SDK and Claude Code talk to it as to Anthropic.
* Anything else (embeddings, images, audio ...) Anthropic does not serve: a clear 404.

The key goes in ``x-api-key``. ``anthropic-version`` and ``anthropic-beta`` come from
``x-portkey-anthropic-version`` / ``-beta`` (or the config), else from the client's
own ``anthropic-version`` / ``anthropic-beta`` headers; the version defaults to
:data:`DEFAULT_VERSION`.
"""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ...config import ProviderOption, Target
from ...errors import MethodNotAllowed, NotFound
from ...header_values import checked_client_value
from ...translate.response_format import answer_tool_for
from ..base import Call, UpstreamRequest, bearer_key, forwarded_headers, join_url, refuse_responses
from .errors import translate_error
from .request import require_model, to_messages_request
from .response import to_chat_completion
from .stream import ChatStreamTranslator

DEFAULT_BASE_URL = "https://api.anthropic.com/v1"
DEFAULT_VERSION = "2023-06-01"

CHAT = "chat/completions"
# First path segment of the endpoints Anthropic serves itself (relayed untouched).
NATIVE_ENDPOINTS = frozenset({"messages", "models", "complete"})


class Anthropic:
    name = "anthropic"
    config_options = (
        ProviderOption("anthropic_version", "x-portkey-anthropic-version"),
        ProviderOption("anthropic_beta", "x-portkey-anthropic-beta"),
    )

    def needs_body(self, call: Call) -> bool:
        return call.endpoint == CHAT

    def prepare(self, call: Call, target: Target) -> UpstreamRequest:
        refuse_responses(call, self.name)
        base = target.custom_host or DEFAULT_BASE_URL
        headers = forwarded_headers(call, target)
        headers.popall("openai-beta", None)
        headers.update(_version_headers(call.headers, target))
        if call.endpoint == CHAT:
            if call.method != "POST":
                raise MethodNotAllowed(f"{call.method} /v1/{CHAT} is not allowed: use POST")
            require_model(call.json or {})
            body = orjson.dumps(to_messages_request(call.chat_request()))
            headers["content-type"] = "application/json"
            headers["accept"] = "application/json"
            return UpstreamRequest("POST", join_url(base, "messages", ""), headers, body)
        if call.endpoint.split("/", 1)[0] not in NATIVE_ENDPOINTS:
            raise NotFound(
                f"provider 'anthropic' does not serve /v1/{call.endpoint}: it serves /v1/{CHAT} "
                "(translated) and its own /v1/messages, /v1/messages/count_tokens, /v1/models",
                code="unsupported_endpoint",
            )
        url = join_url(base, call.endpoint, call.query_string)
        return UpstreamRequest(call.method, url, headers, call.body if call.body_stream is None else call.body_stream)

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        request.headers["x-api-key"] = bearer_key(target, self.name)

    def translator(self, call: Call) -> ChatTranslator | None:
        if call.endpoint != CHAT:
            return None
        # The request was translated (and so parsed and checked) before this is called.
        request = call.chat_request()
        answer = answer_tool_for(request, self.name)
        return ChatTranslator(
            model=request.model or "",
            include_usage=request.include_usage,
            answer_tool=answer.name if answer is not None else None,
        )


@dataclass(frozen=True)
class ChatTranslator:
    """Answers to a translated chat call, back in OpenAI's format."""

    model: str
    include_usage: bool
    answer_tool: str | None = None  # the tool standing in for response_format

    def error(self, status: int, headers: CIMultiDictProxy[str], body: bytes) -> bytes:
        return translate_error(status, body)

    def body(self, body: bytes) -> bytes:
        return orjson.dumps(to_chat_completion(body, answer_tool=self.answer_tool))

    def stream_translator(self) -> ChatStreamTranslator:
        return ChatStreamTranslator(model=self.model, include_usage=self.include_usage, answer_tool=self.answer_tool)


def _version_headers(client: CIMultiDictProxy[str], target: Target) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    options = target.options
    headers["anthropic-version"] = options.get("anthropic_version") or client.get("anthropic-version") or DEFAULT_VERSION
    beta = options.get("anthropic_beta") or ",".join(client.getall("anthropic-beta", ()))
    # The client's own values are sent on: never one that breaks the request (a 400).
    checked_client_value(headers["anthropic-version"], "anthropic-version")
    checked_client_value(beta, "anthropic-beta")
    if beta:
        headers["anthropic-beta"] = beta
    return headers
