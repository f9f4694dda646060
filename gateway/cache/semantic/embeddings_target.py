"""The operator's embeddings target (``--semantic-cache-embeddings``), parsed and checked.

The value is a target as in ``x-portkey-config`` plus the model to call::

    {"provider": "openai", "api_key": "sk-...", "model": "text-embedding-3-small", "dimensions": 512}
    {"virtual_key": "embeddings-prod", "model": "text-embedding-3-small"}
    {"provider": "bedrock", "aws_region": "eu-west-1", "model": "amazon.titan-embed-text-v2:0"}

Any provider this gateway routes ``/v1/embeddings`` to works (OpenAI-compatible ones,
``azure-openai``, ``cohere``, ``google``, ``vertex-ai``, ``bedrock``). ``custom_host``
is the operator's own, so it is not held to ``--allowed-custom-hosts``. Keys may be
camelCase. A ``virtual_key`` needs the store and is resolved when the target is used
(a rotated credential is picked up).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ...config import CONFIG_HEADER, Target, build_route, normalise_keys
from ...config.stored import StoredLookup
from ...custom_host import HostAllowList
from ...errors import GatewayError

# Read here, not passed to the config layer (which knows no such target keys).
_OWN_KEYS = ("model", "dimensions")
# The operator's own host: any.
_ANY_HOST = HostAllowList(("*",))


@dataclass(frozen=True)
class EmbeddingsTarget:
    """Where embeddings come from: the target's config, the model, its dimensions."""

    config: Mapping[str, Any]
    model: str
    dimensions: int | None = None

    @property
    def fingerprint(self) -> str:
        """What makes vectors comparable: the provider (or virtual key), its host, the
        model and dimensions; never a credential. Part of every bucket, so that a
        changed embeddings model never compares its vectors with the old one's."""
        parts = [
            str(self.config.get("provider") or ""),
            str(self.config.get("virtual_key") or ""),
            str(self.config.get("custom_host") or ""),
            self.model,
            str(self.dimensions or ""),
        ]
        return "|".join(parts)

    def body(self, text: str) -> dict[str, Any]:
        """The OpenAI embeddings body for one text."""
        body: dict[str, Any] = {"model": self.model, "input": text, "encoding_format": "float"}
        if self.dimensions is not None:
            body["dimensions"] = self.dimensions
        return body

    def target(self, stored: StoredLookup | None = None) -> Target:
        """The config target (provider, credentials, options); a GatewayError when it
        cannot be built (a virtual key without a store, or one that was deleted)."""
        headers = CIMultiDictProxy(CIMultiDict({CONFIG_HEADER: orjson.dumps(dict(self.config)).decode()}))
        return build_route(headers, _ANY_HOST, providers=_providers(), stored=stored).target


def parse_embeddings_target(text: str) -> EmbeddingsTarget:
    """The setting's JSON text → EmbeddingsTarget; ValueError saying what is wrong."""
    try:
        raw = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise ValueError("not a JSON object like {\"provider\": \"openai\", \"api_key\": \"...\", \"model\": \"...\"}") from None
    if not isinstance(raw, dict):
        raise ValueError("must be a JSON object with provider (or virtual_key) and model")
    raw = normalise_keys(raw)
    if "strategy" in raw or "targets" in raw:
        raise ValueError("must be one target (provider, credentials, model), not a strategy with targets")
    if not raw.get("provider") and not raw.get("virtual_key"):
        raise ValueError("provider (or virtual_key): required, the provider that serves the embeddings")
    model = raw.get("model")
    if not isinstance(model, str) or not model.strip():
        raise ValueError("model: required, the embeddings model to call (e.g. text-embedding-3-small)")
    dimensions = raw.get("dimensions")
    if dimensions is not None and (isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1):
        raise ValueError("dimensions: must be a positive whole number")
    config = {key: value for key, value in raw.items() if key not in _OWN_KEYS}
    spec = EmbeddingsTarget(config, model.strip(), dimensions)
    if "virtual_key" not in config:
        try:
            spec.target()  # checked now: the operator hears of a mistake at start
        except GatewayError as exc:
            raise ValueError(_without_header(exc.message)) from None
    elif not isinstance(config["virtual_key"], str) or not config["virtual_key"]:
        raise ValueError("virtual_key: must be a non-empty string")
    return spec


def _without_header(message: str) -> str:
    # The config was given as a setting, not in a header: name it as the operator wrote it.
    return message.replace(f"{CONFIG_HEADER}: ", "").replace("config.", "")


def _providers():
    # Imported when used: the providers import the config package this module imports.
    from ...providers.registry import PROVIDERS

    return PROVIDERS
