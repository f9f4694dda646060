"""The stored objects as frozen records, with Portkey's field names.

Secrets live only in :class:`ProviderCredentials` (kept out of ``repr``); a
record's public form (:meth:`public`) is what the admin API answers: it carries
``masked_api_key``, never a secret. ``usage_limits`` and ``rate_limits`` are kept
verbatim as given (Portkey's shapes), for the limits that read them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson


@dataclass(frozen=True)
class ProviderCredentials:
    """The secret part of a virtual key: sealed at rest, never answered or logged."""

    api_key: str | None = field(default=None, repr=False)
    aws_secret_access_key: str | None = field(default=None, repr=False)
    aws_session_token: str | None = field(default=None, repr=False)
    # Vertex AI: the service account's JSON key file, as compact JSON text.
    vertex_service_account_json: str | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, str]:
        return {name: value for name, value in self.__dict__.items() if value}

    def __bool__(self) -> bool:
        return any(self.__dict__.values())

    def masked(self) -> str | None:
        """What an answer shows of the secret: the key's ends, or a service-account
        key's ``private_key_id`` (masked too: it names the key, it cannot sign)."""
        if self.api_key or self.aws_secret_access_key:
            return mask(self.api_key or self.aws_secret_access_key)
        if self.vertex_service_account_json:
            key_id = orjson.loads(self.vertex_service_account_json).get("private_key_id")
            return mask(key_id) if isinstance(key_id, str) and key_id else "****"
        return None


def mask(secret: str | None) -> str | None:
    """``sk-a****wxyz``: enough to tell keys apart, never enough to use one."""
    if not secret:
        return None
    if len(secret) < 12:
        return "*" * len(secret)
    return f"{secret[:4]}{'*' * 4}{secret[-4:]}"


@dataclass(frozen=True)
class VirtualKey:
    """A provider credential stored under a slug (``x-portkey-virtual-key: <slug>``).

    ``model_config`` holds the provider's non-secret settings under Portkey's names:
    Azure ``resourceName`` / ``deploymentName`` / ``apiVersion`` / ``deploymentConfig``,
    Bedrock ``awsRegion`` / ``awsAccessKeyId``; Vertex ``vertexProjectId`` / ``vertexRegion``.
    """

    id: str
    slug: str
    name: str
    provider: str
    credentials: ProviderCredentials = field(default_factory=ProviderCredentials, repr=False)
    note: str | None = None
    model_config: Mapping[str, Any] = field(default_factory=dict)
    custom_host: str | None = None
    usage_limits: Mapping[str, Any] | None = None
    rate_limits: tuple[Mapping[str, Any], ...] | None = None
    status: str = "active"
    created_at: str = ""
    last_updated_at: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "ai_provider_name": self.provider,
            "provider": self.provider,
            "note": self.note,
            "model_config": dict(self.model_config),
            "custom_host": self.custom_host,
            "masked_api_key": self.credentials.masked(),
            "usage_limits": self.usage_limits,
            "rate_limits": list(self.rate_limits) if self.rate_limits is not None else None,
            "status": self.status,
            "created_at": self.created_at,
            "last_updated_at": self.last_updated_at,
            "object": "virtual-key",
        }

    def target_fields(self) -> dict[str, Any]:
        """What a ``{"virtual_key": slug}`` config target stands for, in gateway.config's
        target keys (``provider``, ``api_key``, ``resource_name``, ``deployment_id``,
        ``api_version``, ``aws_*``, ``custom_host``): merged into the target before the
        route is built. Holds secrets: never log it.
        """
        fields: dict[str, Any] = {"provider": self.provider, **self.credentials.to_dict()}
        if self.provider == "vertex-ai":
            # Without a key of its own the virtual key stands for the gateway's ADC: a
            # client's config cannot slip its own key in beside it.
            fields.setdefault("vertex_service_account_json", None)
        for name, key in _TARGET_KEYS.items():
            if self.model_config.get(name):
                fields[key] = self.model_config[name]
        deployments = self.model_config.get("deploymentConfig")
        if "deployment_id" not in fields and isinstance(deployments, list) and deployments:
            chosen = next((d for d in deployments if d.get("is_default")), deployments[0])
            if chosen.get("deploymentName"):
                fields["deployment_id"] = chosen["deploymentName"]
            if chosen.get("apiVersion") and "api_version" not in fields:
                fields["api_version"] = chosen["apiVersion"]
        if self.custom_host:
            fields["custom_host"] = self.custom_host
        return fields


# model_config (Portkey's virtual-key names) → gateway.config target keys.
_TARGET_KEYS = {
    "resourceName": "resource_name",
    "deploymentName": "deployment_id",
    "apiVersion": "api_version",
    "awsAccessKeyId": "aws_access_key_id",
    "awsRegion": "aws_region",
    "vertexProjectId": "vertex_project_id",
    "vertexRegion": "vertex_region",
}


@dataclass(frozen=True)
class ApiKey:
    """A client key for ``x-portkey-api-key``; only its SHA-256 ``key_hash`` is stored.

    ``scopes`` and ``defaults`` (``metadata``, ``config_id``) are kept as given; what
    they allow is decided where requests are authorised.
    """

    id: str
    key_hash: str = field(repr=False)
    name: str
    type: str = "workspace"
    sub_type: str = "service"
    description: str | None = None
    masked_key: str | None = None
    scopes: tuple[str, ...] = ()
    defaults: Mapping[str, Any] = field(default_factory=dict)
    usage_limits: Mapping[str, Any] | None = None
    rate_limits: tuple[Mapping[str, Any], ...] | None = None
    expires_at: str | None = None
    status: str = "active"
    created_at: str = ""
    last_updated_at: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "key": self.masked_key,
            "name": self.name,
            "description": self.description,
            "type": f"{self.type}-{self.sub_type}",
            "status": self.status,
            "scopes": list(self.scopes),
            "defaults": dict(self.defaults),
            "usage_limits": self.usage_limits,
            "rate_limits": list(self.rate_limits) if self.rate_limits is not None else None,
            "expires_at": self.expires_at,
            "created_at": self.created_at,
            "last_updated_at": self.last_updated_at,
            "object": "api-key",
        }


@dataclass(frozen=True)
class StoredConfig:
    """A routing config stored under ``slug`` (``pc-...``), used as ``x-portkey-config: pc-...``.

    ``config`` may hold provider keys (``api_key`` in a target): the whole config is
    sealed at rest when it does, and :meth:`public` masks them.
    """

    id: str
    slug: str
    name: str
    config: Mapping[str, Any] = field(repr=False)
    is_default: int = 0
    status: str = "active"
    version_id: str = ""
    created_at: str = ""
    last_updated_at: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "config": mask_config(self.config),
            "is_default": self.is_default,
            "status": self.status,
            "version_id": self.version_id,
            "format": "json",
            "type": "ROUTING_CONFIG",
            "created_at": self.created_at,
            "last_updated_at": self.last_updated_at,
            "object": "config",
        }


# Config keys (snake_case or camelCase) whose values are credentials.
SECRET_CONFIG_KEYS = frozenset(
    {"api_key", "apikey", "aws_secret_access_key", "awssecretaccesskey", "aws_session_token", "awssessiontoken"}
    | {"vertex_service_account_json", "vertexserviceaccountjson"}
)


def _is_secret_key(key: Any) -> bool:
    return isinstance(key, str) and key.replace("_", "").lower() in {k.replace("_", "") for k in SECRET_CONFIG_KEYS}


def config_has_secrets(value: Any) -> bool:
    if isinstance(value, Mapping):
        return any(_is_secret_key(k) and v for k, v in value.items()) or any(
            config_has_secrets(v) for v in value.values()
        )
    if isinstance(value, list):
        return any(config_has_secrets(v) for v in value)
    return False


def _mask_secret(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    # A service-account key given as an object: nothing of it is shown.
    return "****" if value else value


def mask_config(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _mask_secret(v) if _is_secret_key(k) else mask_config(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_config(v) for v in value]
    return value
