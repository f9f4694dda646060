"""The Vertex AI provider: Gemini and Claude on Google Cloud, with OAuth tokens.

Client route → Vertex method, on ``{host}/v1/projects/{project}/locations/{region}/publishers/{publisher}/models/{model}``:

* ``POST /v1/chat/completions`` with a Gemini model → ``:generateContent``, or
  ``:streamGenerateContent?alt=sse`` when ``stream: true`` (the google provider's
  translation, unchanged);
* ``POST /v1/chat/completions`` with a Claude model (a name starting ``claude-``) →
  publisher ``anthropic``, ``:rawPredict`` / ``:streamRawPredict``: the Anthropic
  Messages body (the anthropic provider's translation) without ``model``, with
  ``anthropic_version: vertex-2023-10-16``;
* ``POST /v1/embeddings`` → ``:predict`` (``text-embedding-005``, ...).

The host is ``https://{region}-aiplatform.googleapis.com``, or
``https://aiplatform.googleapis.com`` for the ``global`` region; a custom host replaces
it (the gateway adds ``/v1/projects/...``). The project comes from
``x-portkey-vertex-project-id`` / ``vertex_project_id``, else the service account's
``project_id``, else ``GOOGLE_CLOUD_PROJECT``; the region from
``x-portkey-vertex-region`` / ``vertex_region``, else ``us-central1``. The bearer token
is the request's service account's, or the gateway's Application Default Credentials'
(tokens.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from yarl import URL

from ...config import ProviderOption, Target
from ...errors import BadRequest
from ...translate.response_format import answer_tool_for
from ..anthropic.provider import ChatTranslator as AnthropicChatTranslator
from ..anthropic.request import to_messages_request
from ..base import Call, UpstreamRequest, join_url
from ..embeddings_translator import EmbeddingsTranslator
from ..google.messages import gemini_messages_translator
from ..google.provider import ChatTranslator as GeminiChatTranslator
from ..google.request import model_of, to_generate_content
from ..translating import CHAT, EMBEDDINGS, MESSAGES, TranslatingProvider
from .credentials import HEADER, service_account
from .embeddings import predict_request, predict_response
from .errors import translate_error
from .lifecycle import VERTEX_TOKENS
from .messages import ClaudeMessagesTranslator

DEFAULT_REGION = "us-central1"
ANTHROPIC_VERSION = "vertex-2023-10-16"
PROJECT_HEADER = "x-portkey-vertex-project-id"
REGION_HEADER = "x-portkey-vertex-region"
_REGION = re.compile(r"global|[a-z]+(-[a-z]+)*[0-9]+")
# Project ids are lower-case letters, digits and hyphens; older ones are domain-scoped
# (``example.com:project``).
_PROJECT = re.compile(r"([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")


def is_region(value: str) -> bool:
    return _REGION.fullmatch(value) is not None


def is_project_id(value: str) -> bool:
    return _PROJECT.fullmatch(value) is not None


def publisher_of(model: str) -> str:
    """Claude models are Anthropic's on Vertex; every other name is Google's."""
    return "anthropic" if model.startswith("claude-") else "google"


def region_of(target: Target) -> str:
    region = (target.options.get("vertex_region") or DEFAULT_REGION).strip()
    if not _REGION.fullmatch(region):
        raise BadRequest(
            f"{REGION_HEADER}: {region!r} is not a Vertex AI location (e.g. us-central1, europe-west4, global)",
            code="invalid_vertex_region",
            param=REGION_HEADER,
        )
    return region


def project_of(target: Target) -> str:
    project = target.options.get("vertex_project_id")
    if not project:
        account = service_account(target.options)
        project = account.project_id if account is not None else None
    project = (project or os.environ.get("GOOGLE_CLOUD_PROJECT") or "").strip()
    if not project:
        raise BadRequest(
            f"vertex-ai needs a Google Cloud project: send {PROJECT_HEADER} (or vertex_project_id in "
            "x-portkey-config), a service account whose key names its project_id, or set "
            "GOOGLE_CLOUD_PROJECT for the gateway",
            code="missing_vertex_project",
            param=PROJECT_HEADER,
        )
    if not _PROJECT.fullmatch(project):
        raise BadRequest(
            f"{PROJECT_HEADER}: {project!r} is not a Google Cloud project id",
            code="invalid_vertex_project",
            param=PROJECT_HEADER,
        )
    return project


def _model_segment(model: str) -> str:
    if model in (".", "..") or any(ord(c) < 0x20 for c in model):
        raise BadRequest(f"model: {model!r} is not a Vertex AI model name", code="invalid_model", param="model")
    return quote(model, safe="-._~@")  # Claude versions are written model@date


class VertexAI(TranslatingProvider):
    name = "vertex-ai"
    config_options = (
        ProviderOption("vertex_project_id", PROJECT_HEADER),
        ProviderOption("vertex_region", REGION_HEADER),
        ProviderOption("vertex_service_account_json", HEADER, json_object=True),
    )

    routes = (CHAT, EMBEDDINGS, MESSAGES)

    def upstream(self, call: Call, target: Target) -> tuple[URL, dict]:
        body = call.json or {}
        model = model_of(body)
        publisher = publisher_of(model)
        query = ""
        if call.endpoint == MESSAGES and publisher == "anthropic":
            # Claude speaks this protocol itself: the client's body, as Vertex takes it.
            payload = {key: value for key, value in body.items() if key != "model"}
            payload["anthropic_version"] = ANTHROPIC_VERSION
            method = "streamRawPredict" if call.wants_stream else "rawPredict"
        elif call.endpoint == EMBEDDINGS:
            if publisher != "google":
                raise BadRequest(
                    f"model: {model!r} serves no embeddings on vertex-ai", code="invalid_model", param="model"
                )
            method, payload = "predict", predict_request(body)
        elif publisher == "anthropic":
            payload = to_messages_request(call.chat_request())
            del payload["model"]  # in the URL on Vertex
            payload["anthropic_version"] = ANTHROPIC_VERSION
            method = "streamRawPredict" if call.wants_stream else "rawPredict"
        else:
            payload = to_generate_content(call.chat_request())
            method, query = ("streamGenerateContent", "alt=sse") if call.wants_stream else ("generateContent", "")
        region = region_of(target)
        host = target.custom_host or (
            "https://aiplatform.googleapis.com" if region == "global" else f"https://{region}-aiplatform.googleapis.com"
        )
        path = (
            f"v1/projects/{quote(project_of(target), safe='.:-')}/locations/{region}"
            f"/publishers/{publisher}/models/{_model_segment(model)}:{method}"
        )
        return join_url(host, path, query), payload

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        token = await app[VERTEX_TOKENS].token(service_account(target.options))
        request.headers["Authorization"] = "Bearer " + token

    def answer_translator(self, call: Call):
        body = call.json or {}
        model = str(body.get("model", "")).removeprefix("models/")
        if call.endpoint == EMBEDDINGS:
            return EmbeddingsTranslator(predict_response, translate_error, model, body.get("encoding_format"))
        if call.endpoint == MESSAGES:
            if publisher_of(model) == "anthropic":
                return ClaudeMessagesTranslator(model)
            return gemini_messages_translator(model)
        request = call.chat_request()  # parsed and checked when the request was translated
        include_usage = request.include_usage
        if publisher_of(model) == "anthropic":
            answer = answer_tool_for(request, "anthropic")
            return ClaudeTranslator(model, include_usage, answer.name if answer is not None else None)
        return GeminiTranslator(model=model, include_usage=include_usage)


@dataclass(frozen=True)
class GeminiTranslator(GeminiChatTranslator):
    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return translate_error(status, body)


@dataclass(frozen=True)
class ClaudeTranslator(AnthropicChatTranslator):
    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return translate_error(status, body)
