"""``/v1/api-keys``: client keys for ``x-portkey-api-key``, shown once, stored as a hash.

Create with ``POST /v1/api-keys/{type}/{sub-type}`` (``organisation|workspace`` /
``service|user``, as the portkey-ai SDK sends them) and ``name``, ``description``,
``scopes``, ``defaults`` (``metadata``, ``config_id``), ``usage_limits``,
``rate_limits``, ``expires_at``. The answer is ``{id, key, object}``: the only time the
key is shown. ``PUT`` may also set ``status`` (``active`` or ``revoked``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from ..errors import NotFound
from ..store import ApiKey, Store, hash_api_key, new_api_key
from ..store.apikeys import masked
from ..store.runtime import StoreRuntime
from . import limits
from .common import admin_handler, audit, listing, new_id, not_found, now, ok
from .fields import Fields, read_object

TYPES = ("organisation", "workspace")
SUB_TYPES = ("service", "user")
STATUSES = ("active", "revoked")


async def _defaults(fields: Fields, store: Store) -> dict[str, Any] | None:
    defaults = fields.obj("defaults")
    if defaults is None:
        return None
    metadata = defaults.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        fields.add("defaults.metadata", "must be a JSON object")
    config_id = defaults.get("config_id")
    if config_id is not None:
        if not isinstance(config_id, str):
            fields.add("defaults.config_id", "must be a string")
        elif await store.get_config(config_id) is None:
            fields.add("defaults.config_id", f"no stored config {config_id!r}")
    return defaults


def new_api_key_record(key_type: str, sub_type: str) -> tuple[str, ApiKey]:
    """A fresh key (shown once) and its record, or a 400 for an unknown type."""
    fields = Fields({"type": key_type, "sub-type": sub_type})
    fields.choice("type", TYPES)
    fields.choice("sub-type", SUB_TYPES)
    fields.check()
    key = new_api_key()
    record = ApiKey(id=new_id(), key_hash=hash_api_key(key), name="", type=key_type, sub_type=sub_type,
                    masked_key=masked(key), created_at=now())
    return key, record


async def parse_api_key(body: dict[str, Any], current: ApiKey, store: Store) -> ApiKey:
    """``current`` (a new record to create) updated by a body."""
    body = {k: v for k, v in body.items() if k != "id"}  # the SDK repeats the id in a PUT body
    fields = Fields(body)
    name = fields.string("name", required=not current.name or "name" in body)
    changes: dict[str, Any] = {"last_updated_at": now()}
    if name:
        changes["name"] = name
    if "description" in body:
        changes["description"] = fields.string("description")
    if "scopes" in body:
        changes["scopes"] = fields.string_list("scopes") or ()
    if "defaults" in body:
        changes["defaults"] = await _defaults(fields, store) or {}
    if "usage_limits" in body:
        changes["usage_limits"] = limits.usage_limits(fields)
    if "rate_limits" in body:
        changes["rate_limits"] = limits.rate_limits(fields)
    if "expires_at" in body:
        changes["expires_at"] = fields.timestamp("expires_at")
    if "status" in body and current.name:  # on update only
        changes["status"] = fields.choice("status", STATUSES) or current.status
    fields.check()
    return dataclasses.replace(current, **changes)


@admin_handler
async def create(request: web.Request, runtime: StoreRuntime) -> web.Response:
    key, blank = new_api_key_record(request.match_info["type"], request.match_info["sub_type"])
    record = await parse_api_key(await read_object(request), blank, runtime.store)
    await runtime.store.create_api_key(record)
    runtime.view.wake()
    audit(request, "api_key.create", record.id, name=record.name, type=f"{record.type}-{record.sub_type}")
    return ok({"id": record.id, "key": key, "object": "api-key"})


@admin_handler
async def list_all(request: web.Request, runtime: StoreRuntime) -> web.Response:
    items = [key.public() for key in await runtime.store.list_api_keys()]
    page_size, page = _int(request, "page_size"), _int(request, "current_page") or 0
    if page_size:  # total counts every key; data holds the page asked for
        return listing(items[page * page_size : (page + 1) * page_size], total=len(items))
    return listing(items)


def _int(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None or text == "":
        return None
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        from .fields import InvalidField

        raise InvalidField(f"{name}: must be a whole number from 0", param=name)
    return value


async def _existing(runtime: StoreRuntime, key_id: str) -> ApiKey:
    key = await runtime.store.get_api_key(key_id)
    if key is None:
        raise not_found("api key", key_id)
    return key


@admin_handler
async def retrieve(request: web.Request, runtime: StoreRuntime) -> web.Response:
    return ok((await _existing(runtime, request.match_info["id"])).public())


@admin_handler
async def update(request: web.Request, runtime: StoreRuntime) -> web.Response:
    current = await _existing(runtime, request.match_info["id"])
    body = await read_object(request)
    record = await parse_api_key(body, current, runtime.store)
    if not await runtime.store.update_api_key(record):
        raise NotFound(f"no api key {current.id!r}")
    runtime.view.wake()
    changed = sorted(k for k in body if k in {f.name for f in dataclasses.fields(ApiKey)} and k != "id")
    audit(request, "api_key.update", record.id, fields=changed)
    return ok(record.public())


@admin_handler
async def delete(request: web.Request, runtime: StoreRuntime) -> web.Response:
    key_id = request.match_info["id"]
    await _existing(runtime, key_id)
    if not await runtime.store.delete_api_key(key_id):
        raise not_found("api key", key_id)
    runtime.view.wake()
    audit(request, "api_key.delete", key_id)
    return ok({})
