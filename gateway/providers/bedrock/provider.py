"""The Bedrock provider declaration: URLs, signing, and which translation applies.

Client route → Bedrock operation:

* ``POST /v1/chat/completions`` → ``/model/{modelId}/converse`` (``converse-stream``
  when ``stream: true``), OpenAI chat format in and out;
* ``POST /v1/messages`` → the same operations, Anthropic Messages format in and out;
* ``POST /v1/embeddings`` → ``/model/{modelId}/invoke`` (Titan, Cohere).

The model id (a plain id, an inference profile, or an ARN with ``:`` and ``/``) is
percent-encoded as one path segment. The host is
``https://bedrock-runtime.{region}.amazonaws.com``; a custom host replaces it whole
(Bedrock's base has no ``/v1``).

Region: the request's (``x-portkey-aws-region`` or ``aws_region`` in the config), else
the process's ``AWS_REGION`` / ``AWS_DEFAULT_REGION``, else ``us-east-1`` as Portkey
defaults. It must look like an AWS region (it becomes part of a host name).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from multidict import CIMultiDict

from ...config import ProviderOption, Target
from ...errors import BadRequest, MethodNotAllowed, NotFound
from ...request_path import path_problem
from ...translate.response_format import answer_tool_for
from ..base import Call, UpstreamRequest, forwarded_headers, join_url, refuse_responses
from .converse_request import chat_to_converse
from .converse_response import converse_to_chat
from .converse_stream import ConverseChatStream
from .credentials import resolve
from .embeddings import embeddings_request, embeddings_response
from .errors import AnthropicShapedError, upstream_error
from .lifecycle import AWS_CREDENTIALS
from .messages import converse_to_message, messages_to_converse
from .messages_stream import ConverseMessagesStream
from .signing import sign

DEFAULT_REGION = "us-east-1"
EVENT_STREAM = "application/vnd.amazon.eventstream"
_REGION = re.compile(r"[a-z]{2,}(-[a-z]+)+-[0-9]+")
_ENDPOINTS = ("chat/completions", "messages", "embeddings")


def region_of(target: Target) -> str:
    region = target.options.get("aws_region") or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    region = (region or DEFAULT_REGION).strip()
    if not _REGION.fullmatch(region):
        raise BadRequest(
            f"x-portkey-aws-region: {region!r} is not an AWS region name (e.g. us-east-1)",
            code="invalid_aws_region",
            param="x-portkey-aws-region",
        )
    return region


def _model(call: Call) -> str:
    model = (call.json or {}).get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("model: required (a Bedrock model id, inference profile or ARN)", code="missing_model", param="model")
    model = model.strip()
    if path_problem("/" + model) is not None or any(ord(c) < 0x20 for c in model):
        # A dot segment would be normalised away by servers (and by SigV4's canonical URI),
        # also one made of slashes that the URL carries as %2F (ARNs hold slashes).
        raise BadRequest(f"model: {model!r} is not a Bedrock model id", code="invalid_model", param="model")
    return model


class Bedrock:
    name = "bedrock"
    # Keys and region (credentials.py, region_of). A role to assume is refused with a
    # clear 400 rather than ignored; the auth type and external id are Portkey's names,
    # accepted and unused.
    config_options = (
        ProviderOption("aws_access_key_id", "x-portkey-aws-access-key-id"),
        ProviderOption("aws_secret_access_key", "x-portkey-aws-secret-access-key"),
        ProviderOption("aws_session_token", "x-portkey-aws-session-token"),
        ProviderOption("aws_region", "x-portkey-aws-region"),
        ProviderOption("aws_role_arn", "x-portkey-aws-role-arn"),
        ProviderOption("aws_external_id", "x-portkey-aws-external-id"),
        ProviderOption("aws_auth_type", "x-portkey-aws-auth-type"),
    )

    def needs_body(self, call: Call) -> bool:
        return True  # translated, and signed over its exact bytes

    def prepare(self, call: Call, target: Target) -> UpstreamRequest:
        refuse_responses(call, self.name)
        if call.endpoint not in _ENDPOINTS:
            raise NotFound(
                f"/v1/{call.endpoint} is not served by bedrock (it serves /v1/chat/completions, "
                "/v1/messages and /v1/embeddings)",
                code="unsupported_endpoint",
            )
        if call.method != "POST":
            raise MethodNotAllowed(f"{call.method} /v1/{call.endpoint} is not allowed: use POST")
        body = call.json or {}
        model = _model(call)
        if call.endpoint == "embeddings":
            if call.wants_stream:
                raise BadRequest("stream: embeddings are not streamed", code="invalid_request_for_bedrock", param="stream")
            operation, payload, accept = "invoke", embeddings_request(body, model), "application/json"
        else:
            payload = chat_to_converse(call.chat_request()) if call.endpoint == "chat/completions" else messages_to_converse(body)
            operation, accept = ("converse-stream", EVENT_STREAM) if call.wants_stream else ("converse", "application/json")
        base = target.custom_host or f"https://bedrock-runtime.{region_of(target)}.amazonaws.com"
        url = join_url(base, f"model/{quote(model, safe='')}/{operation}", "")
        headers = _forwarded(call, target)
        headers["Content-Type"] = "application/json"
        headers["Accept"] = accept
        return UpstreamRequest("POST", url, headers, orjson.dumps(payload))

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        credentials = await resolve(target.options, app.get(AWS_CREDENTIALS))
        sign(request, credentials, region_of(target))

    def translator(self, call: Call):
        body = call.json or {}
        model = str(body.get("model", ""))
        if call.endpoint == "chat/completions":
            request = call.chat_request()  # parsed and checked when the request was translated
            answer = answer_tool_for(request, self.name)
            return ChatTranslator(model, request.include_usage, answer.name if answer is not None else None)
        if call.endpoint == "messages":
            stop = body.get("stop_sequences")
            return MessagesTranslator(model, tuple(stop) if isinstance(stop, list) else ())
        return EmbeddingsTranslator(model, body.get("encoding_format"))


def _forwarded(call: Call, target: Target) -> CIMultiDict[str]:
    # Only what the client explicitly lists: OpenAI's own headers mean nothing to AWS,
    # and x-amz-* belong to the signature.
    headers = forwarded_headers(call, target, defaults=())
    for name in [name for name in headers if name.startswith("x-amz")]:
        headers.popall(name)
    return headers


@dataclass(frozen=True)
class ChatTranslator:
    model: str
    include_usage: bool
    answer_tool: str | None = None  # the tool standing in for response_format

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return upstream_error(status, headers, body).body()

    def body(self, body: bytes) -> bytes:
        return converse_to_chat(body, self.model, self.answer_tool)

    def stream_translator(self) -> ConverseChatStream:
        return ConverseChatStream(self.model, self.include_usage, self.answer_tool)


@dataclass(frozen=True)
class MessagesTranslator:
    model: str
    stop_sequences: tuple[str, ...] = ()

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return AnthropicShapedError(upstream_error(status, headers, body)).body()

    def body(self, body: bytes) -> bytes:
        return converse_to_message(body, self.model, self.stop_sequences)

    def stream_translator(self) -> ConverseMessagesStream:
        return ConverseMessagesStream(self.model, self.stop_sequences)


@dataclass(frozen=True)
class EmbeddingsTranslator:
    model: str
    encoding_format: Any

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return upstream_error(status, headers, body).body()

    def body(self, body: bytes) -> bytes:
        return embeddings_response(body, self.model, self.encoding_format)

    def stream_translator(self):
        raise BadRequest("embeddings are not streamed", code="invalid_request_for_bedrock")
