"""Client API keys from the store: who is calling, and what their key lets them do.

Gateway auth is on once the store holds any API key (or ``--api-keys-file`` is
given): then every ``/v1`` request needs a valid key in ``x-portkey-api-key``. A key
is found by its hash in the worker's in-memory view (``gateway.store``): no database
round trip. When the store cannot be reached, keys the view knows keep working and
any other key is refused with a 503 (it may have been created since).

Scopes (strings on the key; a key without scopes may do everything)::

    virtual_keys:<slug>   may use this virtual key ("virtual_keys:*": any)
    providers:<name>      may call this provider
    models:<glob>         may ask for these models ("models:gpt-4o*")
    raw_keys              may bring its own provider keys (Authorization, api_key in
                          its own config, x-portkey-aws-* credentials)
    custom_hosts          may send its own custom host

A kind of allow-list the key does not mention is not restricted; raw keys and custom
hosts need their scope once the key has any scope. So ``["virtual_keys:team-openai"]``
means: only through that virtual key.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from ..config import RouteSpec
from ..errors import GatewayError, Unauthorized
from ..store.records import ApiKey
from ..store.runtime import STORE_RUNTIME, StoreRuntime

GATEWAY_KEY_HEADER = "x-portkey-api-key"


class ScopeRefused(GatewayError):
    status = 403
    type = "permission_error"
    code = "scope_refused"


class StoreUnreachable(GatewayError):
    status = 503
    type = "api_error"
    code = "store_unavailable"


@dataclass(frozen=True)
class Scopes:
    virtual_keys: frozenset[str] | None = None  # None: any
    providers: frozenset[str] | None = None
    models: tuple[str, ...] | None = None
    raw_keys: bool = True
    custom_hosts: bool = True

    @property
    def unrestricted(self) -> bool:
        return self == UNRESTRICTED


UNRESTRICTED = Scopes()


@functools.lru_cache(maxsize=1024)
def parse_scopes(scopes: tuple[str, ...]) -> Scopes:
    """The key's scope strings (unknown ones, such as Portkey's permission names, are ignored)."""
    if not scopes:
        return UNRESTRICTED
    lists: dict[str, list[str]] = {}
    for scope in scopes:
        kind, _, value = scope.partition(":")
        if value:
            lists.setdefault(kind.strip().lower().replace("-", "_"), []).append(value.strip())
    plain = {scope.strip().lower().replace("-", "_") for scope in scopes}

    def allow(kind: str) -> frozenset[str] | None:
        values = lists.get(kind)
        return None if values is None or "*" in values else frozenset(values)

    models = lists.get("models")
    return Scopes(
        virtual_keys=allow("virtual_keys"),
        providers=allow("providers"),
        models=None if models is None or "*" in models else tuple(models),
        raw_keys="raw_keys" in plain,
        custom_hosts="custom_hosts" in plain,
    )


@dataclass(frozen=True)
class ClientKey:
    """The stored API key a request presented (None on the request: no stored key)."""

    key: ApiKey
    scopes: Scopes


CLIENT_KEY = web.RequestKey("client_key", ClientKey)


def stored_key(presented: str, runtime: StoreRuntime) -> ClientKey:
    """The active stored key ``presented`` names, or a 401 (503: unknown while the store is down)."""
    key = runtime.view.current.api_key(presented) if presented.isascii() else None
    if key is None:
        if not runtime.view.reachable:
            raise StoreUnreachable(
                "the key store is unreachable and this key is not known to this gateway yet; retry later"
            )
        raise Unauthorized(f"{GATEWAY_KEY_HEADER}: unknown API key", code="invalid_api_key")
    if key.status != "active":
        raise Unauthorized(f"{GATEWAY_KEY_HEADER}: this API key was revoked", code="api_key_revoked")
    if key.expires_at is not None and _expiry(key.expires_at) <= datetime.now(UTC):
        raise Unauthorized(f"{GATEWAY_KEY_HEADER}: this API key expired at {key.expires_at}", code="api_key_expired")
    return ClientKey(key, parse_scopes(key.scopes))


@functools.lru_cache(maxsize=1024)
def _expiry(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def default_config(client: ClientKey | None) -> str | None:
    if client is None:
        return None
    config_id = client.key.defaults.get("config_id")
    return config_id if isinstance(config_id, str) and config_id else None


def default_metadata(client: ClientKey | None) -> Mapping[str, Any] | None:
    if client is None:
        return None
    metadata = client.key.defaults.get("metadata")
    return metadata if isinstance(metadata, dict) and metadata else None


def check_route(route: RouteSpec, scopes: Scopes) -> None:
    """A 403 naming what the key's scopes refuse in this route."""
    if scopes.unrestricted:
        return
    stored = route.stored_config is not None
    for leaf in route.leaves:
        target = leaf.target
        if scopes.providers is not None and target.provider not in scopes.providers:
            raise ScopeRefused(f"this API key may not use provider {target.provider!r}", param=leaf.path)
        if target.virtual_key is not None:
            if scopes.virtual_keys is not None and target.virtual_key not in scopes.virtual_keys:
                raise ScopeRefused(f"this API key may not use virtual key {target.virtual_key!r}", param=leaf.path)
            continue
        # Not a virtual key: an operator's stored config, or the client's own credentials
        # (or none: the gateway's own AWS credential chain, a keyless host).
        if not stored and not scopes.raw_keys:
            raise ScopeRefused(
                "this API key may not bring its own provider keys: call through a virtual key",
                param=leaf.path, code="raw_keys_refused",
            )
        if target.custom_host is not None and not stored and not scopes.custom_hosts:
            raise ScopeRefused("this API key may not send a custom host", param=leaf.path, code="custom_host_refused")


def check_model(model: Any, scopes: Scopes) -> None:
    if scopes.models is None:
        return
    if not isinstance(model, str) or not any(fnmatch.fnmatchcase(model, glob) for glob in scopes.models):
        raise ScopeRefused(f"this API key may not use model {model!r}", param="model", code="model_refused")


def key_names(request: web.Request, route: RouteSpec | None, option_path: str | None) -> tuple[str | None, str | None]:
    """The names of the stored API key and of the virtual key a request used, for
    metrics labels (``--metrics-key-labels``): names the operator gave, never a key
    value or a slug. The virtual key is the answering target's, else the route's one."""
    client = request.get(CLIENT_KEY)
    api_key = client.key.name if client is not None else None
    slugs: set[str] = set()
    if route is not None:
        for leaf in route.leaves:
            slug = leaf.target.virtual_key
            if slug is not None and (option_path is None or leaf.path == option_path):
                slugs.add(slug)
    if len(slugs) != 1:
        return api_key, None
    view = store_view(request.app)
    record = view.virtual_key(next(iter(slugs))) if view is not None else None
    return api_key, record.name if record is not None else None


def store_view(app: web.Application):
    """The store's current view (what routes read), or None without a store."""
    runtime = app.get(STORE_RUNTIME)
    return runtime.view.current if runtime is not None else None
