"""Providers that speak OpenAI's API: one row each, bytes relayed untouched.

A row names the provider's base URL (the part that stands for ``/v1`` in OpenAI's
URLs) and whether it needs a key. Local servers have no default URL: the request must
carry a custom host.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ..config import ProviderOption, Target
from ..errors import BadRequest
from ..translate.messages_answer import MessagesTranslator
from ..translate.openai_request import DEFAULT_DIALECT, ChatDialect
from .base import MESSAGES, Call, UpstreamRequest, bearer_key, forwarded_headers, join_url, refuse_responses
from .openai_messages import is_messages_route, openai_chat_body, openai_messages_translator
from .translating import CHAT

# OpenAI's organization and project headers, sent by every row that is given them.
OPENAI_OPTIONS = (
    ProviderOption("openai_organization", "x-portkey-openai-organization"),
    ProviderOption("openai_project", "x-portkey-openai-project"),
)


@dataclass(frozen=True)
class OpenAICompatible:
    name: str
    base_url: str | None
    requires_api_key: bool = True
    # Fixed headers the provider expects on every call.
    extra_headers: Mapping[str, str] = field(default_factory=dict)
    # Whether the provider serves OpenAI's Responses API (/v1/responses...): others
    # answer a clear 400 rather than a call to a URL that does not exist.
    serves_responses: bool = False
    # How the provider's chat endpoint takes the body the gateway writes for a
    # /v1/messages client (token-limit field name, stream_options, user).
    dialect: ChatDialect = DEFAULT_DIALECT
    config_options: tuple[ProviderOption, ...] = OPENAI_OPTIONS

    def needs_body(self, call: Call) -> bool:
        return call.endpoint == MESSAGES  # translated: an Anthropic-format client

    def base(self, target: Target) -> str:
        base = target.custom_host or self.base_url
        if base is None:
            raise BadRequest(
                f"provider {self.name!r} has no default URL: send x-portkey-custom-host "
                "(or custom_host in x-portkey-config), e.g. http://localhost:11434/v1",
                code="missing_custom_host",
                param="x-portkey-custom-host",
            )
        return base

    def prepare(self, call: Call, target: Target) -> UpstreamRequest:
        if not self.serves_responses:
            refuse_responses(call, self.name)
        headers = forwarded_headers(call, target)
        headers.update(self.extra_headers)
        options = target.options
        if "openai_organization" in options:
            headers["OpenAI-Organization"] = options["openai_organization"]
        if "openai_project" in options:
            headers["OpenAI-Project"] = options["openai_project"]
        if is_messages_route(call, self.name):
            headers["content-type"] = "application/json"
            headers["accept"] = "text/event-stream" if call.wants_stream else "application/json"
            url = join_url(self.base(target), CHAT, "")
            return UpstreamRequest("POST", url, headers, openai_chat_body(call, self.dialect))
        url = join_url(self.base(target), call.endpoint, call.query_string)
        return UpstreamRequest(call.method, url, headers, call.body if call.body_stream is None else call.body_stream)

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        if self.requires_api_key or target.api_key:
            request.headers["Authorization"] = "Bearer " + bearer_key(target, self.name)

    def translator(self, call: Call) -> MessagesTranslator | None:
        return openai_messages_translator(call) if call.endpoint == MESSAGES else None


def _row(name: str, base_url: str | None, **kwargs) -> tuple[str, OpenAICompatible]:
    return name, OpenAICompatible(name, base_url, **kwargs)


# Default base URLs as the providers document them for OpenAI-compatible clients.
OPENAI_COMPATIBLE: Mapping[str, OpenAICompatible] = MappingProxyType(
    dict(
        [
            # OpenAI's reasoning models refuse max_tokens.
            _row("openai", "https://api.openai.com/v1", serves_responses=True, dialect=ChatDialect("max_completion_tokens")),
            _row("groq", "https://api.groq.com/openai/v1"),
            # Mistral refuses fields it does not know (422 extra_forbidden), stream_options
            # among them, and sends a stream's usage in its last chunk unasked.
            _row("mistral-ai", "https://api.mistral.ai/v1", dialect=ChatDialect(stream_options=False, user=False)),
            _row("together-ai", "https://api.together.xyz/v1"),
            _row("deepseek", "https://api.deepseek.com/v1"),
            _row("fireworks-ai", "https://api.fireworks.ai/inference/v1"),
            _row("perplexity-ai", "https://api.perplexity.ai"),
            _row("openrouter", "https://openrouter.ai/api/v1"),
            _row("x-ai", "https://api.x.ai/v1"),
            _row("cerebras", "https://api.cerebras.ai/v1"),
            _row("deepinfra", "https://api.deepinfra.com/v1/openai"),
            _row("sambanova", "https://api.sambanova.ai/v1"),
            _row("nebius", "https://api.studio.nebius.com/v1"),
            _row("hyperbolic", "https://api.hyperbolic.xyz/v1"),
            _row("lambda", "https://api.lambda.ai/v1"),
            _row("moonshot", "https://api.moonshot.ai/v1"),
            _row("dashscope", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"),
            _row("novita-ai", "https://api.novita.ai/v3/openai"),
            # GitHub Models ignores parameters it does not know only when told to.
            _row("github", "https://models.github.ai/inference", extra_headers={"extra-parameters": "ignore"}),
            _row("huggingface", "https://router.huggingface.co/v1"),
            # The other names Portkey's gateway accepts whose chat endpoint is OpenAI's.
            _row("302ai", "https://api.302.ai/v1"),
            _row("aibadgr", "https://aibadgr.com/api/v1"),
            # Anyscale Endpoints and Lepton closed their public APIs; the names stay so
            # that configs naming them keep parsing (and can point a custom host).
            _row("anyscale", "https://api.endpoints.anyscale.com/v1"),
            _row("cometapi", "https://api.cometapi.com/v1"),
            _row("deepbricks", "https://api.deepbricks.ai/v1"),
            _row("featherless-ai", "https://api.featherless.ai/v1"),
            _row("inference-net", "https://api.inference.net/v1"),
            _row("iointelligence", "https://api.intelligence.io.solutions/api/v1"),
            _row("kluster-ai", "https://api.kluster.ai/v1"),
            _row("krutrim", "https://cloud.olakrutrim.com/v1"),
            _row("lemonfox-ai", "https://api.lemonfox.ai/v1"),
            _row("lepton", "https://api.lepton.ai/api/v1"),
            _row("lingyi", "https://api.lingyiwanwu.com/v1"),
            _row("matterai", "https://api.matterai.so/v1"),
            _row("monsterapi", "https://llm.monsterapi.ai/v1"),
            _row("ncompass", "https://api.ncompass.tech/v1"),
            _row("nextbit", "https://api.nextbit256.com/v1"),
            _row("nscale", "https://inference.api.nscale.com/v1"),
            _row("ovhcloud", "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1"),
            _row("siliconflow", "https://api.siliconflow.cn/v1"),
            _row("upstage", "https://api.upstage.ai/v1/solar"),
            _row("z-ai", "https://api.z.ai/api/paas/v4"),
            _row("zhipu", "https://open.bigmodel.cn/api/paas/v4"),
            # Per-deployment URLs: the request names the host (an Azure AI Foundry
            # models endpoint; a Modal app, whose own auth may replace the key).
            _row("azure-ai", None),
            _row("modal", None, requires_api_key=False),
            # Local servers: no default host, and usually no key.
            _row("ollama", None, requires_api_key=False),
            _row("vllm", None, requires_api_key=False),
            _row("lm-studio", None, requires_api_key=False),
            _row("llamacpp", None, requires_api_key=False),
        ]
    )
)
