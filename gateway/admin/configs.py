"""``/v1/configs``: routing configs stored under a ``pc-...`` slug.

A config is checked when it is stored, by the same parser that checks
``x-portkey-config`` (``gateway.config.build_route``), so a bad one is refused with
the same path-named errors (``config.targets[1].strategy.mode: ...``). A target
without a provider is checked as if ``x-portkey-provider`` named one (the request
may send it), and every ``virtual_key`` it names must exist.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ..config import CONFIG_HEADER, build_route, normalise_keys
from ..custom_host import HostAllowList
from ..providers.registry import PROVIDERS
from ..settings import SETTINGS
from ..store import Store, StoredConfig
from ..store.runtime import StoreRuntime
from .common import admin_handler, audit, listing, new_id, not_found, now, ok, slug_from
from .fields import Fields, read_object

STATUSES = ("active", "archived")
# Stands in for the x-portkey-provider header a request may send with a stored config.
_ANY_PROVIDER = "openai"


async def validate_config(config: dict[str, Any], store: Store, allow: HostAllowList) -> None:
    """Raise the parser's own error (400, or 403 for a custom host) for a bad config."""
    headers = CIMultiDictProxy(
        CIMultiDict({CONFIG_HEADER: orjson.dumps(config).decode(), "x-portkey-provider": _ANY_PROVIDER})
    )
    build_route(headers, allow, providers=PROVIDERS)
    fields = Fields({})
    for path, slug in _virtual_keys(normalise_keys(config), "config"):
        if not isinstance(slug, str) or not slug:
            fields.add(f"{path}.virtual_key", "must be the slug of a virtual key")
        elif await store.get_virtual_key(slug) is None:
            fields.add(f"{path}.virtual_key", f"no virtual key {slug!r}")
    fields.check()


def _virtual_keys(node: Any, path: str) -> Iterator[tuple[str, Any]]:
    if not isinstance(node, dict):
        return
    if "virtual_key" in node:
        yield path, node["virtual_key"]
    targets = node.get("targets")
    if isinstance(targets, list):
        for index, child in enumerate(targets):
            yield from _virtual_keys(child, f"{path}.targets[{index}]")


def new_config() -> StoredConfig:
    return StoredConfig(id=new_id(), slug="", name="", config={}, created_at=now())


async def parse_config(body: dict[str, Any], current: StoredConfig, store: Store, allow: HostAllowList) -> StoredConfig:
    """``current`` (``new_config()`` to create) updated by a body; the config is validated."""
    fields = Fields(body)
    creating = not current.name
    name = fields.string("name", required=creating or "name" in body)
    config = fields.obj("config", required=creating)
    if config == {}:
        fields.add("config", "must not be empty")
    is_default = fields.flag("is_default")
    status = fields.choice("status", STATUSES) if not creating else None
    fields.check()
    if config is not None:
        await validate_config(config, store, allow)
    updated = dataclasses.replace(
        current,
        name=name or current.name,
        config=config if config is not None else current.config,
        is_default=current.is_default if is_default is None else is_default,
        status=status or current.status,
        version_id=new_id(),
        last_updated_at=now(),
    )
    return updated if not creating else dataclasses.replace(updated, slug=slug_from(updated.name, prefix="pc-"))


@admin_handler
async def create(request: web.Request, runtime: StoreRuntime) -> web.Response:
    allow = request.app[SETTINGS].allowed_custom_hosts
    config = await parse_config(await read_object(request), new_config(), runtime.store, allow)
    await runtime.store.create_config(config)
    runtime.view.wake()
    audit(request, "config.create", config.id, slug=config.slug)
    return ok({"id": config.id, "version_id": config.version_id, "slug": config.slug, "object": "config"})


@admin_handler
async def list_all(request: web.Request, runtime: StoreRuntime) -> web.Response:
    return listing([config.public() for config in await runtime.store.list_configs()])


async def _existing(runtime: StoreRuntime, ref: str) -> StoredConfig:
    config = await runtime.store.get_config(ref)
    if config is None:
        raise not_found("config", ref)
    return config


@admin_handler
async def retrieve(request: web.Request, runtime: StoreRuntime) -> web.Response:
    return ok((await _existing(runtime, request.match_info["ref"])).public())


@admin_handler
async def update(request: web.Request, runtime: StoreRuntime) -> web.Response:
    current = await _existing(runtime, request.match_info["ref"])
    body = await read_object(request)
    body.pop("slug", None)  # the SDK repeats the slug in the body; it never changes
    config = await parse_config(body, current, runtime.store, request.app[SETTINGS].allowed_custom_hosts)
    if not await runtime.store.update_config(config):
        raise not_found("config", current.slug)
    runtime.view.wake()
    audit(request, "config.update", config.id, slug=config.slug, fields=sorted(body))
    return ok({"id": config.id, "slug": config.slug, "version_id": config.version_id, "object": "config"})


@admin_handler
async def delete(request: web.Request, runtime: StoreRuntime) -> web.Response:
    config = await _existing(runtime, request.match_info["ref"])
    if not await runtime.store.delete_config(config.id):
        raise not_found("config", config.slug)
    runtime.view.wake()
    audit(request, "config.delete", config.id, slug=config.slug)
    return ok({})
