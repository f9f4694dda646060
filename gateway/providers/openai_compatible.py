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
from .base import Call, UpstreamRequest, bearer_key, forwarded_headers, join_url

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
    config_options: tuple[ProviderOption, ...] = OPENAI_OPTIONS

    def needs_body(self, call: Call) -> bool:
        return False

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
        headers = forwarded_headers(call, target)
        headers.update(self.extra_headers)
        options = target.options
        if "openai_organization" in options:
            headers["OpenAI-Organization"] = options["openai_organization"]
        if "openai_project" in options:
            headers["OpenAI-Project"] = options["openai_project"]
        url = join_url(self.base(target), call.endpoint, call.query_string)
        return UpstreamRequest(call.method, url, headers, call.body if call.body_stream is None else call.body_stream)

    async def authorize(self, request: UpstreamRequest, target: Target, app) -> None:
        if self.requires_api_key or target.api_key:
            request.headers["Authorization"] = "Bearer " + bearer_key(target, self.name)

    def translator(self, call: Call) -> None:
        return None


def _row(name: str, base_url: str | None, **kwargs) -> tuple[str, OpenAICompatible]:
    return name, OpenAICompatible(name, base_url, **kwargs)


# Default base URLs as the providers document them for OpenAI-compatible clients.
OPENAI_COMPATIBLE: Mapping[str, OpenAICompatible] = MappingProxyType(
    dict(
        [
            _row("openai", "https://api.openai.com/v1"),
            _row("groq", "https://api.groq.com/openai/v1"),
            _row("mistral-ai", "https://api.mistral.ai/v1"),
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
            # Local servers: no default host, and usually no key.
            _row("ollama", None, requires_api_key=False),
            _row("vllm", None, requires_api_key=False),
            _row("lm-studio", None, requires_api_key=False),
            _row("llamacpp", None, requires_api_key=False),
        ]
    )
)
