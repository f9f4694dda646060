"""The explicit list of providers, by their Portkey slug."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from ..errors import BadRequest
from .anthropic import Anthropic
from .azure_openai import AzureOpenAI
from .base import Provider
from .bedrock.provider import Bedrock
from .cohere import Cohere
from .google import Google
from .openai_compatible import OPENAI_COMPATIBLE
from .vertex import VertexAI

PROVIDERS: Mapping[str, Provider] = MappingProxyType(
    {
        **OPENAI_COMPATIBLE,
        "azure-openai": AzureOpenAI(),
        "anthropic": Anthropic(),
        "bedrock": Bedrock(),
        "google": Google(),
        "vertex-ai": VertexAI(),
        "cohere": Cohere(),
    }
)


def get_provider(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise BadRequest(
            f"unknown provider {name!r}; known providers: {', '.join(sorted(PROVIDERS))}",
            code="unknown_provider",
            param="x-portkey-provider",
        ) from None
