"""Azure OpenAI: OpenAI's wire format under a per-resource, per-deployment URL.

``https://{resource}.openai.azure.com/openai/deployments/{deployment}/{endpoint}?api-version=...``
with the key in the ``api-key`` header. The resource, deployment and API version come
from ``x-portkey-azure-*`` headers or the config (``resource_name``, ``deployment_id``,
``api_version``). A custom host replaces ``https://{resource}.openai.azure.com/openai``.
"""

from __future__ import annotations

from urllib.parse import quote

from ..config import ProviderOption, Target
from ..errors import BadRequest
from ..translate.messages_answer import MessagesTranslator
from ..translate.openai_request import ChatDialect
from .base import MESSAGES, Call, UpstreamRequest, bearer_key, forwarded_headers, join_url
from .openai_messages import is_messages_route, openai_chat_body, openai_messages_translator
from .translating import CHAT

DEFAULT_API_VERSION = "2024-10-21"

# Endpoints addressed to the resource, not to a deployment.
# (The Responses API too: the deployment is the body's ``model``.)
_RESOURCE_ENDPOINTS = (
    "models",
    "files",
    "batches",
    "fine_tuning",
    "assistants",
    "threads",
    "vector_stores",
    "responses",
)
# The Responses API needs a newer (preview) API version than chat's default: the
# dated version Microsoft's "Azure OpenAI API version lifecycle" page gives for
# Responses calls on a resource URL (learn.microsoft.com/azure/ai-foundry/openai/
# api-version-lifecycle, "Last generation API"; the v1 API at /openai/v1/ needs none).
RESPONSES_API_VERSION = "2025-04-01-preview"


class AzureOpenAI:
    name = "azure-openai"
    config_options = (
        ProviderOption("resource_name", "x-portkey-azure-resource-name"),
        ProviderOption("deployment_id", "x-portkey-azure-deployment-id", path_segment=True),
        ProviderOption("api_version", "x-portkey-azure-api-version"),
    )

    # Chat deployments take max_completion_tokens (reasoning ones require it) from
    # api-version 2024-09-01-preview on; the default version is newer.
    dialect = ChatDialect("max_completion_tokens")

    def needs_body(self, call: Call) -> bool:
        return call.endpoint == MESSAGES  # translated: an Anthropic-format client

    def prepare(self, call: Call, target: Target) -> UpstreamRequest:
        options = target.options
        if target.custom_host:
            base = target.custom_host
        else:
            resource = _required(options, "resource_name", "x-portkey-azure-resource-name")
            base = f"https://{quote(resource, safe='')}.openai.azure.com/openai"
        messages = is_messages_route(call, self.name)
        endpoint = CHAT if messages else call.endpoint
        if endpoint.split("/", 1)[0] in _RESOURCE_ENDPOINTS:
            path = endpoint
        else:
            deployment = _required(options, "deployment_id", "x-portkey-azure-deployment-id")
            path = f"deployments/{quote(deployment, safe='')}/{endpoint}"
        query = "" if messages else call.query_string  # e.g. Claude Code's ?beta=true
        if "api-version=" not in query:
            default = RESPONSES_API_VERSION if call.endpoint.split("/", 1)[0] == "responses" else DEFAULT_API_VERSION
            version = quote(options.get("api_version", default), safe="")
            query = f"{query}&api-version={version}" if query else f"api-version={version}"
        url = join_url(base, path, query)
        headers = forwarded_headers(call, target)
        if messages:
            headers["content-type"] = "application/json"
            headers["accept"] = "text/event-stream" if call.wants_stream else "application/json"
            return UpstreamRequest("POST", url, headers, openai_chat_body(call, self.dialect))
        body = call.body if call.body_stream is None else call.body_stream
        return UpstreamRequest(call.method, url, headers, body)

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        request.headers["api-key"] = bearer_key(target, self.name)

    def translator(self, call: Call) -> MessagesTranslator | None:
        return openai_messages_translator(call) if call.endpoint == MESSAGES else None


def _required(options, key: str, header: str) -> str:
    value = options.get(key)
    if not value:
        raise BadRequest(
            f"azure-openai needs {header} (or {key} in x-portkey-config)",
            code="missing_provider_option",
            param=header,
        )
    return value
