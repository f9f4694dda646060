"""``/v1/virtual-keys``: provider credentials stored under a slug, Portkey's fields.

Create with ``name``, ``provider``, ``key`` (the provider key), ``note``; Azure
``resourceName`` / ``deploymentName`` / ``apiVersion`` / ``deploymentConfig``; Bedrock
``awsAccessKeyId`` / ``awsSecretAccessKey`` / ``awsSessionToken`` / ``awsRegion``;
Vertex AI ``vertexServiceAccountJson`` (the key file: an object or its JSON text) /
``vertexProjectId`` / ``vertexRegion`` (see vertex_fields.py); snake_case accepted
too; ``custom_host``; ``usage_limits``; ``rate_limits``; and, beyond Portkey, an
optional ``slug`` of your choosing (else one is made from the name).
Answers carry ``masked_api_key``, never a secret.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from ..custom_host import HostAllowList, validate_custom_host
from ..errors import BadRequest
from ..providers.registry import PROVIDERS
from ..settings import SETTINGS
from ..store import ProviderCredentials, VirtualKey
from ..store.runtime import StoreRuntime
from . import limits, vertex_fields
from .common import admin_handler, audit, listing, new_id, not_found, now, ok, slug_from
from .fields import Fields, read_object
from .vertex_fields import SERVICE_ACCOUNT_FIELD

# model_config entry (Portkey's name) ← the body fields that set it.
MODEL_CONFIG_FIELDS = {
    "resourceName": ("resourceName", "resource_name"),
    "deploymentName": ("deploymentName", "deployment_name", "deployment_id"),
    "apiVersion": ("apiVersion", "api_version"),
    "awsAccessKeyId": ("awsAccessKeyId", "aws_access_key_id"),
    "awsRegion": ("awsRegion", "aws_region"),
    "vertexProjectId": ("vertexProjectId", "vertex_project_id"),
    "vertexRegion": ("vertexRegion", "vertex_region"),
}
SECRET_FIELDS = {
    "api_key": ("key",),
    "aws_secret_access_key": ("awsSecretAccessKey", "aws_secret_access_key"),
    "aws_session_token": ("awsSessionToken", "aws_session_token"),
}


def _model_config(fields: Fields, base: dict[str, Any]) -> dict[str, Any]:
    config = dict(base)
    for name, aliases in MODEL_CONFIG_FIELDS.items():
        if fields.has(*aliases):
            value = fields.string(*aliases)
            if value:
                config[name] = value
            else:
                config.pop(name, None)
    if "deploymentConfig" in fields.body:
        deployments = fields.body["deploymentConfig"]
        if not isinstance(deployments, list) or not all(isinstance(d, dict) for d in deployments):
            fields.add("deploymentConfig", "must be a list of objects")
        else:
            config["deploymentConfig"] = deployments
    return config


def _credentials(fields: Fields, base: ProviderCredentials) -> ProviderCredentials:
    values = base.to_dict()
    for name, aliases in SECRET_FIELDS.items():
        if fields.has(*aliases):
            value = fields.string(*aliases)
            if value:
                values[name] = value
            else:
                values.pop(name, None)
    if fields.has(*SERVICE_ACCOUNT_FIELD):
        account = vertex_fields.service_account_json(fields)
        if account:
            values["vertex_service_account_json"] = account
        else:
            values.pop("vertex_service_account_json", None)
    return ProviderCredentials(**values)


def _custom_host(allow: HostAllowList, fields: Fields, current: str | None) -> str | None:
    if "custom_host" not in fields.body:
        return current
    value = fields.body["custom_host"]
    if value is None or value == "":
        return None
    try:
        return validate_custom_host(value, allow, param="custom_host")
    except BadRequest as exc:
        fields.add("custom_host", exc.message.removeprefix("custom_host: "))
        return current


def _check_provider_needs(fields: Fields, provider: str, model_config: dict[str, Any]) -> None:
    if provider == "azure-openai" and "resourceName" not in model_config:
        fields.add("resourceName", "required for azure-openai")


def _check_aws_pair(fields: Fields, vk: VirtualKey) -> None:
    """An access key id and its secret come together (neither: the gateway's own AWS identity)."""
    if bool(vk.model_config.get("awsAccessKeyId")) != bool(vk.credentials.aws_secret_access_key):
        fields.add("awsSecretAccessKey", "awsAccessKeyId and awsSecretAccessKey go together")


def parse_virtual_key(body: dict[str, Any], current: VirtualKey | None, allow: HostAllowList) -> VirtualKey:
    """A new virtual key from a create body (``current`` None), or ``current`` updated by a PUT body."""
    fields = Fields(body)
    if current is None:
        name = fields.string("name", required=True)
        provider = fields.string("provider", required=True)
        if provider is not None:
            provider = provider.strip().lower()
            if provider not in PROVIDERS:
                fields.add("provider", f"unknown provider {provider!r}")
        slug = fields.slug("slug")
        base = VirtualKey(id=new_id(), slug="", name=name or "", provider=provider or "", created_at=now())
    else:
        if "provider" in body and body["provider"] != current.provider:
            fields.add("provider", "cannot change: create a new virtual key for another provider")
        name = fields.string("name", required="name" in body) or current.name
        slug = current.slug
        base = current
    updated = dataclasses.replace(
        base,
        name=name or base.name,
        note=fields.string("note") if "note" in body else base.note,
        credentials=_credentials(fields, base.credentials),
        model_config=_model_config(fields, dict(base.model_config)),
        custom_host=_custom_host(allow, fields, base.custom_host),
        usage_limits=limits.usage_limits(fields) if "usage_limits" in body else base.usage_limits,
        rate_limits=limits.rate_limits(fields) if "rate_limits" in body else base.rate_limits,
        last_updated_at=now(),
    )
    _check_provider_needs(fields, updated.provider, dict(updated.model_config))
    _check_aws_pair(fields, updated)
    vertex_fields.check(fields, updated)
    fields.check()
    return dataclasses.replace(updated, slug=slug or slug_from(updated.name))


@admin_handler
async def create(request: web.Request, runtime: StoreRuntime) -> web.Response:
    vk = parse_virtual_key(await read_object(request), None, request.app[SETTINGS].allowed_custom_hosts)
    await runtime.store.create_virtual_key(vk)
    runtime.view.wake()
    audit(request, "virtual_key.create", vk.id, slug=vk.slug, provider=vk.provider)
    return ok({"id": vk.id, "slug": vk.slug, "object": "virtual-key"})


@admin_handler
async def list_all(request: web.Request, runtime: StoreRuntime) -> web.Response:
    return listing([vk.public() for vk in await runtime.store.list_virtual_keys()])


async def _existing(runtime: StoreRuntime, slug: str) -> VirtualKey:
    vk = await runtime.store.get_virtual_key(slug)
    if vk is None:
        raise not_found("virtual key", slug)
    return vk


@admin_handler
async def retrieve(request: web.Request, runtime: StoreRuntime) -> web.Response:
    return ok((await _existing(runtime, request.match_info["slug"])).public())


@admin_handler
async def update(request: web.Request, runtime: StoreRuntime) -> web.Response:
    current = await _existing(runtime, request.match_info["slug"])
    vk = parse_virtual_key(await read_object(request), current, request.app[SETTINGS].allowed_custom_hosts)
    if not await runtime.store.update_virtual_key(vk):
        raise not_found("virtual key", vk.slug)
    runtime.view.wake()
    audit(request, "virtual_key.update", vk.id, slug=vk.slug, fields=sorted(changed_fields(vk, current)))
    return ok(vk.public())


@admin_handler
async def delete(request: web.Request, runtime: StoreRuntime) -> web.Response:
    slug = request.match_info["slug"]
    vk = await _existing(runtime, slug)
    if not await runtime.store.delete_virtual_key(slug):
        raise not_found("virtual key", slug)
    runtime.view.wake()
    audit(request, "virtual_key.delete", vk.id, slug=slug)
    return ok({})


def changed_fields(new: VirtualKey, old: VirtualKey) -> set[str]:
    """Names of the fields an update changed (for the audit line; values never logged)."""
    changed = {f.name for f in dataclasses.fields(VirtualKey) if getattr(new, f.name) != getattr(old, f.name)}
    return changed - {"last_updated_at"}
