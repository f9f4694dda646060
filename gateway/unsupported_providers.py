"""Provider names Portkey's gateway accepts that this gateway does not serve, and why.

None of them speaks OpenAI's chat API at a fixed URL with a bearer key, so none is a
row of the OpenAI-compatible table; a request naming one gets a 400 that says why,
instead of a bare "unknown provider".

Neither the config layer (which says it) nor the providers package owns this: it
sits beside both, so that config imports no provider.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_OWN_API = "speaks its own API, not OpenAI's chat completions (it needs a translation this gateway does not have yet)"
_NOT_CHAT = "serves no chat completions"

UNSUPPORTED: Mapping[str, str] = MappingProxyType(
    {
        "reka-ai": _OWN_API,
        "ai21": _OWN_API,
        "palm": "was Google's PaLM API, which Google retired; use 'google'",
        "bytez": _OWN_API,
        "replicate": _OWN_API,
        "oracle": _OWN_API + " (OCI Generative AI, with OCI request signing)",
        "cortex": _OWN_API + " (Snowflake Cortex, at an account-specific host)",
        "sagemaker": _OWN_API + " (an AWS SageMaker endpoint, with SigV4 signing)",
        "workers-ai": _OWN_API + " (Cloudflare's, at a URL that names the account)",
        "predibase": "needs a URL built from the tenant and deployment; use its OpenAI-compatible "
        "deployment URL as a custom host with provider 'openai'",
        "triton": "serves text generation in Triton's own format, not chat completions",
        "jina": _NOT_CHAT + " (embeddings and reranking)",
        "nomic": _NOT_CHAT + " (embeddings)",
        "voyage": _NOT_CHAT + " (embeddings and reranking)",
        "stability-ai": _NOT_CHAT + " (image generation)",
        "segmind": _NOT_CHAT + " (image generation)",
        "recraft-ai": _NOT_CHAT + " (image generation)",
        "meshy": _NOT_CHAT + " (3D model generation)",
        "tripo3d": _NOT_CHAT + " (3D model generation)",
        "milvus": _NOT_CHAT + " (a vector database)",
        "qdrant": _NOT_CHAT + " (a vector database)",
        "portkey": "is Portkey's hosted gateway itself; use provider 'openai' with its URL as a custom host",
    }
)
