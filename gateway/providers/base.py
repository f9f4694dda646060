"""What a provider is: it turns a client call into an upstream request, and (for
providers that speak another protocol) translates the answer back.

A provider declares; ``gateway.upstream`` does the I/O. OpenAI-compatible providers
relay bytes untouched and have no translator.
"""

from __future__ import annotations

from collections.abc import AsyncIterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from ..config import ProviderOption, Target
from ..errors import BadRequest, Unauthorized
from ..header_values import checked_client_value
from ..hop_by_hop import HOP_BY_HOP
from ..translate.chat_request import ChatRequest, parse_chat_request
from ..translate.messages_request import parse_messages_request
from ..usage import Usage

# Anthropic's Messages API, served to its clients by every chat provider (translated
# for those that speak another protocol).
MESSAGES = "messages"

# Client headers that every provider receives when present; everything else is
# dropped unless the client lists it in x-portkey-forward-headers.
DEFAULT_FORWARDED = ("content-type", "accept", "openai-beta")

# Credentials reach a provider only as the gateway sets them: the target's key in the
# provider's own header. A listed auth header would stand beside or replace that one,
# or carry the client's key to a provider it was not meant for (a fallback target, a
# local server that needs no key).
CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "x-goog-api-key", "proxy-authorization"})

# Never forwarded, whatever the client asks (nor any x-portkey-* header): they
# describe the client's own connection or session, carry credentials, or are
# recomputed for the new body.
NEVER_FORWARDED = (
    HOP_BY_HOP
    | CREDENTIAL_HEADERS
    | {"host", "content-length", "accept-encoding", "expect", "cookie", "cookie2"}
)


@dataclass
class Call:
    """One client request as a provider sees it.

    ``endpoint`` is the path after ``/v1/`` (``chat/completions``, ``models/gpt-4o``).
    The body is either ``body`` (read whole, and ``json`` when it parsed as an object)
    or ``body_stream`` (relayed chunk by chunk) — never both. ``wants_stream`` is
    something else: the client asked for a streamed answer (``"stream": true``).
    """

    method: str
    endpoint: str
    query_string: str
    headers: CIMultiDictProxy[str]
    body: bytes | None = None
    json: dict[str, Any] | None = None
    body_stream: AsyncIterable[bytes] | None = None
    content_length: int | None = None

    @property
    def wants_stream(self) -> bool:
        return bool(self.json and self.json.get("stream") is True)

    def chat_request(self) -> ChatRequest:
        """The body as a typed chat request, parsed once per call (and again only if
        ``json`` was replaced); a 400 naming the field when it is not valid. An
        Anthropic Messages body (``/v1/messages``) gives the same typed request."""
        cached = self.__dict__.get("_chat_request")
        if cached is not None and cached[0] is self.json:
            return cached[1]
        parse = parse_messages_request if self.endpoint == MESSAGES else parse_chat_request
        request = parse(self.json or {})
        self.__dict__["_chat_request"] = (self.json, request)
        return request


@dataclass
class UpstreamRequest:
    method: str
    url: URL
    headers: CIMultiDict[str] = field(default_factory=CIMultiDict)
    body: bytes | AsyncIterable[bytes] | None = None


class StreamTranslator(Protocol):
    """Sans-IO: upstream stream bytes in, OpenAI SSE bytes out.

    ``feed`` and ``close`` raise a GatewayError when the upstream reports an error in
    the stream (or, for ``close``, when it ended before its proper end).
    ``usage`` is None until the upstream has reported the answer's token usage.
    """

    usage: Usage | None

    def feed(self, data: bytes) -> bytes: ...

    def close(self) -> bytes: ...


class ResponseTranslator(Protocol):
    """Translates one upstream answer for a provider that speaks another protocol."""

    def error(self, status: int, headers: CIMultiDictProxy[str], body: bytes) -> bytes:
        """An upstream error body → the client's error JSON (same status)."""

    def body(self, body: bytes) -> bytes:
        """A whole 2xx body → the client's format."""

    def stream_translator(self) -> StreamTranslator:
        """A fresh translator for one 2xx streamed answer."""


class Provider(Protocol):
    name: str
    # The config keys (and x-portkey-* headers) a target of this provider takes; the
    # config layer reads them into ``Target.options``.
    config_options: tuple[ProviderOption, ...]

    def needs_body(self, call: Call) -> bool:
        """Whether the provider must read the whole body (to translate or sign it)."""

    def prepare(self, call: Call, target: Target) -> UpstreamRequest:
        """The upstream request for this call: URL, headers, body. Pure."""

    async def authorize(self, request: UpstreamRequest, target: Target, app: web.Application) -> None:
        """Add upstream credentials to the final request (a header, or a signature).

        ``app`` gives access to shared clients (typed AppKeys), e.g. AWS credentials."""

    def translator(self, call: Call) -> ResponseTranslator | None:
        """None for providers whose answer is relayed as bytes."""


def may_forward(name: str) -> bool:
    """Whether a (lower-case) header name may be passed on at the client's request."""
    return name not in NEVER_FORWARDED and not name.startswith("x-portkey-")


def forwarded_headers(
    call: Call, target: Target, *, defaults: tuple[str, ...] = DEFAULT_FORWARDED
) -> CIMultiDict[str]:
    """The client headers this provider receives: the defaults plus the client's list.

    A value that cannot be sent (not UTF-8) is a 400 naming the header.
    """
    headers: CIMultiDict[str] = CIMultiDict()
    received = call.headers
    for name in defaults:
        for value in received.getall(name, ()):
            headers.add(name, checked_client_value(value, name))
    if target.forward_headers:
        # Names the client's own Connection header lists are hop-by-hop too (RFC 9110 7.6.1).
        connection = received.get("connection")
        hop = {token.strip().lower() for token in connection.split(",")} if connection else ()
        for name in target.forward_headers:
            if name in headers or not may_forward(name) or name in hop:
                continue  # also: a name listed twice (or a default listed) is sent once
            for value in received.getall(name, ()):
                headers.add(name, checked_client_value(value, name))
    return headers


def bearer_key(target: Target, provider: str) -> str:
    """The provider key, or a clear 401: never ``Bearer undefined`` sent upstream."""
    if not target.api_key:
        raise Unauthorized(
            f"no API key for provider {provider!r}: send 'Authorization: Bearer <key>' "
            "or api_key in x-portkey-config",
            code="missing_api_key",
        )
    return target.api_key


def join_url(base: str, endpoint: str, query_string: str) -> URL:
    """``base`` + ``/endpoint`` (+ ``?query``), keeping the client's encoding as sent."""
    text = base.rstrip("/") + "/" + endpoint
    if query_string:
        text += "?" + query_string
    return URL(text, encoded=True)


RESPONSES = "responses"


def refuse_responses(call: Call, provider: str) -> None:
    """OpenAI's Responses API (``/v1/responses...``) at a provider that does not serve
    it: a 400 naming the provider (the client chose the wrong provider for this API),
    never a call to a URL that does not exist."""
    if call.endpoint.split("/", 1)[0] == RESPONSES:
        raise BadRequest(
            f"provider {provider!r} does not serve OpenAI's Responses API (/v1/{RESPONSES}): "
            "use /v1/chat/completions, or provider 'openai' or 'azure-openai'",
            code="unsupported_endpoint",
        )
