"""Providers build the right upstream URL and auth for each call."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import ProviderOption, Target
from gateway.errors import GatewayError
from gateway.providers.base import Call
from gateway.providers.openai_compatible import OPENAI_COMPATIBLE
from gateway.providers.registry import PROVIDERS, get_provider

REQUIRED = (
    "openai groq mistral-ai together-ai deepseek fireworks-ai perplexity-ai openrouter x-ai cerebras deepinfra "
    "sambanova nebius hyperbolic lambda moonshot dashscope novita-ai github huggingface ollama azure-openai"
).split()


def call(endpoint="chat/completions", query="", headers=None) -> Call:
    return Call("POST", endpoint, query, CIMultiDictProxy(CIMultiDict(headers or {})), body=b"{}")


def test_every_required_provider_is_registered():
    assert set(REQUIRED) <= set(PROVIDERS)


@pytest.mark.parametrize(
    "name, url",
    [
        ("openai", "https://api.openai.com/v1/chat/completions"),
        ("groq", "https://api.groq.com/openai/v1/chat/completions"),
        ("fireworks-ai", "https://api.fireworks.ai/inference/v1/chat/completions"),
        ("perplexity-ai", "https://api.perplexity.ai/chat/completions"),
        ("openrouter", "https://openrouter.ai/api/v1/chat/completions"),
        ("deepinfra", "https://api.deepinfra.com/v1/openai/chat/completions"),
        ("dashscope", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"),
    ],
)
def test_default_base_urls(name, url):
    request = get_provider(name).prepare(call(), Target(provider=name, api_key="k"))
    assert str(request.url) == url


async def test_every_table_provider_authorises_with_bearer_or_needs_a_host():
    for name, provider in OPENAI_COMPATIBLE.items():
        target = Target(provider=name, api_key="k", custom_host="http://127.0.0.1:1/v1")
        request = provider.prepare(call(), target)
        await provider.authorize(request, target, None)
        assert request.headers["Authorization"] == "Bearer k"
        if provider.base_url is None:
            with pytest.raises(GatewayError):
                provider.prepare(call(), Target(provider=name))


def test_query_and_encoding_are_kept():
    request = get_provider("openai").prepare(call("files/a%2Fb", "x=1&y=%20"), Target(provider="openai"))
    assert str(request.url) == "https://api.openai.com/v1/files/a%2Fb?x=1&y=%20"


def test_azure_urls():
    azure = get_provider("azure-openai")
    options = {"resource_name": "res", "deployment_id": "dep 1", "api_version": "2024-06-01"}
    target = Target(provider="azure-openai", api_key="k", options=options)
    assert str(azure.prepare(call(), target).url) == (
        "https://res.openai.azure.com/openai/deployments/dep%201/chat/completions?api-version=2024-06-01"
    )
    assert str(azure.prepare(call("embeddings"), target).url).endswith("/deployments/dep%201/embeddings?api-version=2024-06-01")
    assert str(azure.prepare(call("models"), target).url) == "https://res.openai.azure.com/openai/models?api-version=2024-06-01"
    # Sub-paths of resource endpoints (a file's content, a stored response) are the resource's too.
    assert str(azure.prepare(call("files/file-abc/content"), target).url) == (
        "https://res.openai.azure.com/openai/files/file-abc/content?api-version=2024-06-01"
    )
    # A version the client put in the URL is the one sent, once.
    own = azure.prepare(call("chat/completions", "api-version=2025-01-01-preview"), target)
    assert own.url.query_string == "api-version=2025-01-01-preview"


def test_github_models_is_told_to_ignore_parameters_it_does_not_know():
    request = get_provider("github").prepare(call(), Target(provider="github", api_key="k"))
    assert request.headers["extra-parameters"] == "ignore"


def test_every_provider_declares_its_options():
    # The config layer reads config_options of whatever provider a target names.
    for name, provider in PROVIDERS.items():
        assert isinstance(provider.config_options, tuple), name
        assert all(isinstance(option, ProviderOption) for option in provider.config_options), name


def test_declared_options_mean_one_thing_across_providers():
    """A config key is read from one header, and a header sets one key, whoever declares
    them (``aws_region`` is ``x-portkey-aws-region`` for every AWS provider)."""
    header_of: dict[str, str] = {}
    key_of: dict[str, str] = {}
    for name, provider in PROVIDERS.items():
        for option in provider.config_options:
            assert header_of.setdefault(option.key, option.header) == option.header, (name, option)
            assert key_of.setdefault(option.header, option.key) == option.key, (name, option)
    assert header_of["aws_region"] == "x-portkey-aws-region"
    assert header_of["deployment_id"] == "x-portkey-azure-deployment-id"
