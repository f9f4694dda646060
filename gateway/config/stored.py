"""Stored objects in a route: ``x-portkey-config: pc-...`` and virtual keys.

With a store (``gateway.store``), a config header that is not a JSON object names a
stored config (by slug or id), and every target that names a ``virtual_key`` (in
the config, or ``x-portkey-virtual-key`` for the targets that name neither a
provider nor a virtual key) takes the provider and credentials the virtual key
holds. The secrets are merged into the target here, when the route is built, and
never leave the gateway except towards the provider.

This module reads the store through :class:`StoredLookup` (the in-memory view): it
never imports the store, and never waits on a database.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from ..errors import InvalidConfig
from .problems import Problems

VIRTUAL_KEY_HEADER = "x-portkey-virtual-key"


class StoredVirtualKey(Protocol):
    provider: str

    def target_fields(self) -> dict[str, Any]: ...


class StoredConfigRecord(Protocol):
    slug: str
    config: Mapping[str, Any]
    status: str


class StoredLookup(Protocol):
    """What the route builder reads of the store (``gateway.store.StoreView``)."""

    def virtual_key(self, slug: str) -> StoredVirtualKey | None: ...

    def config(self, ref: str) -> StoredConfigRecord | None: ...


class UnknownConfig(InvalidConfig):
    code = "unknown_config"


class UnknownVirtualKey(InvalidConfig):
    code = "unknown_virtual_key"


def stored_config(ref: str, stored: StoredLookup, header: str) -> tuple[dict[str, Any], str]:
    """The stored config ``ref`` names (a copy, to be normalised), and its slug; a 400 naming it."""
    record = stored.config(ref)
    if record is None or record.status != "active":
        raise UnknownConfig(f"{header}: no stored config {ref!r}", param=header)
    return dict(record.config), record.slug


def expand_virtual_keys(
    config: dict[str, Any], header_virtual_key: str | None, stored: StoredLookup, problems: Problems
) -> dict[str, Any]:
    """The config with each virtual key replaced by what it holds; unknown ones are noted."""
    if not config and header_virtual_key:
        config = {"virtual_key": header_virtual_key}
    return _expand(config, "config", header_virtual_key, stored, problems)


def _expand(node: Any, path: str, header_vk: str | None, stored: StoredLookup, problems: Problems) -> Any:
    if not isinstance(node, dict):
        return node
    if "strategy" in node or "targets" in node:
        targets = node.get("targets")
        if not isinstance(targets, list):
            return node
        children = [_expand(child, f"{path}.targets[{i}]", header_vk, stored, problems) for i, child in enumerate(targets)]
        return {**node, "targets": children}
    slug = node.get("virtual_key")
    where = f"{path}.virtual_key"
    if slug is None and node.get("provider") is None and header_vk:
        slug, where = header_vk, VIRTUAL_KEY_HEADER
    if slug is None:
        return node
    if not isinstance(slug, str) or not slug:
        problems.add(where, "must be the slug of a virtual key")
        return node
    virtual_key = stored.virtual_key(slug)
    if virtual_key is None or getattr(virtual_key, "status", "active") != "active":
        # Raised at once: the target it stood for cannot be checked further.
        raise UnknownVirtualKey(f"{where}: no virtual key {slug!r}", param=where)
    # The virtual key's provider and credentials win over the node's: a client cannot
    # send a stored credential elsewhere by naming another provider beside it.
    fields = virtual_key.target_fields()
    expanded = {**node, **fields, "virtual_key": slug}
    if node.get("custom_host") is not None and node["custom_host"] != fields.get("custom_host"):
        problems.add(
            f"{path}.custom_host",
            "a virtual key's credentials go only to its own host: no custom_host beside it",
            code="custom_host_with_virtual_key",
        )
    return expanded
