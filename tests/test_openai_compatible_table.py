"""The OpenAI-compatible table: every such name Portkey's gateway accepts, with its
default base URL and bearer auth; every other Portkey name is served by a translating
provider or refused with its reason."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import Target
from gateway.errors import BadRequest
from gateway.providers.base import Call
from gateway.providers.openai_compatible import OPENAI_COMPATIBLE
from gateway.providers.registry import PROVIDERS
from gateway.unsupported_providers import UNSUPPORTED

# name → default base URL (None: the request must name the host), from each provider's
# documentation and Portkey's provider declarations.
EXPECTED = {
    "openai": "https://api.openai.com/v1",
    "groq": "https://api.groq.com/openai/v1",
    "mistral-ai": "https://api.mistral.ai/v1",
    "together-ai": "https://api.together.xyz/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "fireworks-ai": "https://api.fireworks.ai/inference/v1",
    "perplexity-ai": "https://api.perplexity.ai",
    "openrouter": "https://openrouter.ai/api/v1",
    "x-ai": "https://api.x.ai/v1",
    "cerebras": "https://api.cerebras.ai/v1",
    "deepinfra": "https://api.deepinfra.com/v1/openai",
    "sambanova": "https://api.sambanova.ai/v1",
    "nebius": "https://api.studio.nebius.com/v1",
    "hyperbolic": "https://api.hyperbolic.xyz/v1",
    "lambda": "https://api.lambda.ai/v1",
    "moonshot": "https://api.moonshot.ai/v1",
    "dashscope": "https://dashscope-intl.aliyuncs.com/compatible-mode/v1",
    "novita-ai": "https://api.novita.ai/v3/openai",
    "github": "https://models.github.ai/inference",
    "huggingface": "https://router.huggingface.co/v1",
    "302ai": "https://api.302.ai/v1",
    "aibadgr": "https://aibadgr.com/api/v1",
    "anyscale": "https://api.endpoints.anyscale.com/v1",
    "cometapi": "https://api.cometapi.com/v1",
    "deepbricks": "https://api.deepbricks.ai/v1",
    "featherless-ai": "https://api.featherless.ai/v1",
    "inference-net": "https://api.inference.net/v1",
    "iointelligence": "https://api.intelligence.io.solutions/api/v1",
    "kluster-ai": "https://api.kluster.ai/v1",
    "krutrim": "https://cloud.olakrutrim.com/v1",
    "lemonfox-ai": "https://api.lemonfox.ai/v1",
    "lepton": "https://api.lepton.ai/api/v1",
    "lingyi": "https://api.lingyiwanwu.com/v1",
    "matterai": "https://api.matterai.so/v1",
    "monsterapi": "https://llm.monsterapi.ai/v1",
    "ncompass": "https://api.ncompass.tech/v1",
    "nextbit": "https://api.nextbit256.com/v1",
    "nscale": "https://inference.api.nscale.com/v1",
    "ovhcloud": "https://oai.endpoints.kepler.ai.cloud.ovh.net/v1",
    "siliconflow": "https://api.siliconflow.cn/v1",
    "upstage": "https://api.upstage.ai/v1/solar",
    "z-ai": "https://api.z.ai/api/paas/v4",
    "zhipu": "https://open.bigmodel.cn/api/paas/v4",
    "azure-ai": None,
    "modal": None,
    "ollama": None,
    "vllm": None,
    "lm-studio": None,
    "llamacpp": None,
}
KEYLESS = {"modal", "ollama", "vllm", "lm-studio", "llamacpp"}

# Every provider name in Portkey's gateway (src/globals.ts VALID_PROVIDERS, 74 names).
PORTKEY_NAMES = """
anthropic anyscale azure-openai cohere google vertex-ai mistral-ai openai palm perplexity-ai reka-ai
together-ai deepinfra ncompass stability-ai nomic ollama ai21 bedrock groq segmind jina fireworks-ai
workers-ai moonshot openrouter lingyi zhipu novita-ai monsterapi deepseek predibase triton voyage azure-ai
github deepbricks siliconflow huggingface cerebras inference-net sambanova lemonfox-ai upstage lambda
dashscope x-ai cortex sagemaker nebius recraft-ai milvus replicate portkey lepton kluster-ai nscale
hyperbolic bytez featherless-ai krutrim qdrant 302ai cometapi matterai meshy tripo3d nextbit modal z-ai
oracle iointelligence aibadgr ovhcloud
""".split()


def chat_call() -> Call:
    return Call("POST", "chat/completions", "", CIMultiDictProxy(CIMultiDict()), body=b"{}")


def test_the_table_is_exactly_the_expected_rows():
    assert {name: row.base_url for name, row in OPENAI_COMPATIBLE.items()} == EXPECTED
    assert {name for name, row in OPENAI_COMPATIBLE.items() if not row.requires_api_key} == KEYLESS


@pytest.mark.parametrize("name", sorted(EXPECTED))
async def test_each_row_calls_its_chat_url_with_a_bearer_key(name):
    provider = OPENAI_COMPATIBLE[name]
    base = EXPECTED[name]
    target = (
        Target(provider=name, api_key="sk-row")
        if base
        else Target(provider=name, api_key="sk-row", custom_host="http://127.0.0.1:9/v1")
    )
    request = provider.prepare(chat_call(), target)
    await provider.authorize(request, target, None)
    assert str(request.url) == (base or "http://127.0.0.1:9/v1") + "/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-row"
    if base is None:
        with pytest.raises(BadRequest):
            provider.prepare(chat_call(), Target(provider=name, api_key="sk-row"))


def test_every_portkey_name_is_served_or_refused_with_a_reason():
    assert len(PORTKEY_NAMES) == 74
    served = set(PROVIDERS)
    for name in PORTKEY_NAMES:
        assert (name in served) != (name in UNSUPPORTED), name
    assert set(UNSUPPORTED) <= set(PORTKEY_NAMES)


async def test_a_portkey_name_without_openai_chat_is_refused_with_its_reason(client):
    response = await client.post(
        "/v1/chat/completions",
        headers={"x-portkey-provider": "reka-ai", "Authorization": "Bearer k"},
        json={"model": "reka-core", "messages": [{"role": "user", "content": "hi"}]},
    )
    body = await response.json()
    assert response.status == 400
    assert body["error"]["code"] == "unknown_provider"
    assert "'reka-ai' is not supported by this gateway: it speaks its own API" in body["error"]["message"]
