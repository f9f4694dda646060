"""Records ↔ table rows: the non-secret fields as JSON, the secrets sealed."""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import orjson

from .crypto import MasterKey, MasterKeyError, sealed_key_id
from .records import ApiKey, ProviderCredentials, StoredConfig, VirtualKey, config_has_secrets


@dataclass(frozen=True)
class Row:
    id: str
    lookup: str
    doc: dict[str, Any]
    sealed: str | None = None
    created_at: str = ""
    updated_at: str = ""

    @property
    def key_id(self) -> str | None:
        return sealed_key_id(self.sealed) if self.sealed else None


def context(table: str, row_id: str) -> str:
    """The associated data of a sealed value: which row it belongs to."""
    return f"{table}:{row_id}"


def _need(master: MasterKey | None) -> MasterKey:
    if master is None:
        raise MasterKeyError("provider credentials are stored encrypted: give the master key (--master-key-file)")
    return master


def _frozen(value: Any) -> Any:
    return MappingProxyType(dict(value)) if isinstance(value, dict) else value


def _limits(value: Any) -> tuple | None:
    return tuple(value) if isinstance(value, list) else None


# --- virtual keys


def virtual_key_row(vk: VirtualKey, master: MasterKey | None) -> Row:
    doc = {
        "name": vk.name,
        "provider": vk.provider,
        "note": vk.note,
        "model_config": dict(vk.model_config),
        "custom_host": vk.custom_host,
        "usage_limits": vk.usage_limits,
        "rate_limits": list(vk.rate_limits) if vk.rate_limits is not None else None,
        "status": vk.status,
    }
    sealed = None
    if vk.credentials:
        sealed = _need(master).seal(orjson.dumps(vk.credentials.to_dict()), context("virtual_keys", vk.id))
    return Row(vk.id, vk.slug, doc, sealed, vk.created_at, vk.last_updated_at)


def virtual_key_record(row: Row, master: MasterKey | None) -> VirtualKey:
    doc = row.doc
    credentials = ProviderCredentials()
    if row.sealed:
        credentials = ProviderCredentials(**orjson.loads(_need(master).open(row.sealed, context("virtual_keys", row.id))))
    return VirtualKey(
        id=row.id,
        slug=row.lookup,
        name=doc["name"],
        provider=doc["provider"],
        credentials=credentials,
        note=doc.get("note"),
        model_config=_frozen(doc.get("model_config") or {}),
        custom_host=doc.get("custom_host"),
        usage_limits=doc.get("usage_limits"),
        rate_limits=_limits(doc.get("rate_limits")),
        status=doc.get("status", "active"),
        created_at=row.created_at,
        last_updated_at=row.updated_at,
    )


# --- API keys


def api_key_row(key: ApiKey) -> Row:
    doc = {
        "name": key.name,
        "type": key.type,
        "sub_type": key.sub_type,
        "description": key.description,
        "masked_key": key.masked_key,
        "scopes": list(key.scopes),
        "defaults": dict(key.defaults),
        "usage_limits": key.usage_limits,
        "rate_limits": list(key.rate_limits) if key.rate_limits is not None else None,
        "expires_at": key.expires_at,
        "status": key.status,
    }
    return Row(key.id, key.key_hash, doc, None, key.created_at, key.last_updated_at)


def api_key_record(row: Row) -> ApiKey:
    doc = row.doc
    return ApiKey(
        id=row.id,
        key_hash=row.lookup,
        name=doc["name"],
        type=doc.get("type", "workspace"),
        sub_type=doc.get("sub_type", "service"),
        description=doc.get("description"),
        masked_key=doc.get("masked_key"),
        scopes=tuple(doc.get("scopes") or ()),
        defaults=_frozen(doc.get("defaults") or {}),
        usage_limits=doc.get("usage_limits"),
        rate_limits=_limits(doc.get("rate_limits")),
        expires_at=doc.get("expires_at"),
        status=doc.get("status", "active"),
        created_at=row.created_at,
        last_updated_at=row.updated_at,
    )


# --- configs


def config_row(config: StoredConfig, master: MasterKey | None) -> Row:
    doc: dict[str, Any] = {
        "name": config.name,
        "is_default": config.is_default,
        "status": config.status,
        "version_id": config.version_id,
    }
    sealed = None
    if config_has_secrets(config.config):
        sealed = _need(master).seal(orjson.dumps(config.config), context("configs", config.id))
    else:
        doc["config"] = config.config
    return Row(config.id, config.slug, doc, sealed, config.created_at, config.last_updated_at)


def config_record(row: Row, master: MasterKey | None) -> StoredConfig:
    doc = row.doc
    if row.sealed:
        body = orjson.loads(_need(master).open(row.sealed, context("configs", row.id)))
    else:
        body = doc.get("config") or {}
    return StoredConfig(
        id=row.id,
        slug=row.lookup,
        name=doc["name"],
        config=body,
        is_default=doc.get("is_default", 0),
        status=doc.get("status", "active"),
        version_id=doc.get("version_id", ""),
        created_at=row.created_at,
        last_updated_at=row.updated_at,
    )
