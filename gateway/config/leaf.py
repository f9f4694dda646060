"""A leaf of the routing tree: one upstream target, a provider with its credentials.

Keys may be snake_case or camelCase, as in the wild; they are normalised to snake_case
(never inside ``override_params`` or ``metadata``, which hold data verbatim).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import orjson

from ..header_values import header_value_problem
from ..request_path import path_problem
from ..unsupported_providers import UNSUPPORTED
from .problems import Problems

if TYPE_CHECKING:
    from .headers import HeaderSettings
    from .inherit import Inherited
    from .options import ProviderCatalog, ProviderOption

# Keys that only make sense on a target (a node that names a provider), besides the
# options providers declare (``options.option_keys``).
TARGET_KEYS = ("provider", "api_key", "virtual_key")


@dataclass(frozen=True)
class Target:
    """One upstream call: a provider, its credentials and its per-call options.

    Secrets (``api_key`` and the provider options, which hold AWS keys) are left out of
    ``repr`` so that a logged or printed Target never shows them.
    """

    provider: str
    api_key: str | None = field(default=None, repr=False)
    custom_host: str | None = None
    override_params: Mapping[str, Any] = field(default_factory=dict, repr=False)
    forward_headers: tuple[str, ...] = ()
    request_timeout_ms: int | None = None
    options: Mapping[str, str] = field(default_factory=dict, repr=False)
    # Longest silence (ms) allowed between two chunks of an answer; None = the setting.
    idle_timeout_ms: int | None = None
    # The stored virtual key the provider and credentials came from (config.stored).
    virtual_key: str | None = None


def parse_target(
    node: Mapping[str, Any],
    path: str,
    inherited: Inherited,
    headers: HeaderSettings,
    providers: ProviderCatalog,
    problems: Problems,
    *,
    key_provider: str | None,
) -> Target | None:
    """The target at ``path``: its provider, key and options, with what it inherits
    and what the headers impose."""
    provider = target_provider(node, path, headers, providers, problems)
    if provider is None:
        return None
    virtual_key = node.get("virtual_key") if isinstance(node.get("virtual_key"), str) else None
    custom_host = headers.custom_host or inherited.custom_host
    if virtual_key is not None:
        # A stored credential goes only to its provider, or to the host its virtual key
        # names (the node's custom_host, config.stored put it there); the client's own
        # key and option headers never mix with it.
        if headers.custom_host is not None or (custom_host is not None and node.get("custom_host") is None):
            problems.add(
                f"{path}.virtual_key",
                "a virtual key's credentials go only to its own host: no custom_host or x-portkey-custom-host with it",
                code="custom_host_with_virtual_key",
            )
        key_provider = None
    return Target(
        provider=provider,
        api_key=target_api_key(node, path, provider, headers, problems, key_provider=key_provider),
        custom_host=custom_host,
        override_params=inherited.override_params,
        forward_headers=headers.forward_headers if headers.forward_headers is not None else inherited.forward_headers,
        request_timeout_ms=headers.request_timeout_ms or inherited.request_timeout_ms,
        options=provider_options(
            node, path, providers[provider].config_options, headers, problems, from_headers=virtual_key is None
        ),
        idle_timeout_ms=inherited.idle_timeout_ms,
        virtual_key=virtual_key,
    )


def target_provider(
    node: Mapping[str, Any], path: str, headers: HeaderSettings, providers: ProviderCatalog, problems: Problems
) -> str | None:
    """The provider the node names, else the one ``x-portkey-provider`` names; one the
    registry knows, or None once the problem is noted."""
    provider = node.get("provider")
    if provider is None:
        provider = headers.provider
        if provider is None:
            _missing_provider(node, path, problems)
            return None
        where = "x-portkey-provider"
    elif not isinstance(provider, str) or not provider.strip():
        problems.add(f"{path}.provider", "must be a non-empty string")
        return None
    else:
        provider = provider.strip().lower()
        where = f"{path}.provider"
    if provider not in providers:
        problems.add(where, _unknown(provider, providers), code="unknown_provider")
        return None
    return provider


def _missing_provider(node: Mapping[str, Any], path: str, problems: Problems) -> None:
    if path == "config":
        problems.add(
            "x-portkey-provider",
            "no provider: send the x-portkey-provider header or a provider in x-portkey-config",
            code="missing_provider",
        )
    elif "virtual_key" in node:
        problems.add(
            f"{path}.virtual_key",
            "virtual keys need the gateway's store (--store, --admin-key-file); give provider and api_key instead",
        )
    else:
        problems.add(f"{path}.provider", "required: name a provider here or send x-portkey-provider")


def target_api_key(
    node: Mapping[str, Any],
    path: str,
    provider: str,
    headers: HeaderSettings,
    problems: Problems,
    *,
    key_provider: str | None,
) -> str | None:
    """The node's own ``api_key``, else the client's key (``Authorization``) when
    ``provider`` is ``key_provider``, the one the key was meant for (see
    ``tree.key_provider``). A client's key is never sent to another provider."""
    api_key = node.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        problems.add(f"{path}.api_key", "must be a string")
    elif api_key:
        _header_safe(api_key, f"{path}.api_key", problems)
    if not api_key and provider == key_provider:
        api_key = headers.api_key
    return api_key or None


def provider_options(
    node: Mapping[str, Any],
    path: str,
    declared: tuple[ProviderOption, ...],
    headers: HeaderSettings,
    problems: Problems,
    *,
    from_headers: bool = True,
) -> Mapping[str, str]:
    """The provider's declared options: from the node, else from their headers."""
    options = {}
    for option in declared:
        key = option.key
        value = node.get(key)
        where = f"{path}.{key}"
        if isinstance(value, dict) and option.json_object:
            value = orjson.dumps(value).decode()
        if value is None:
            if not from_headers:
                continue
            value, where = headers.received.get(option.header), option.header
        elif not isinstance(value, str):
            problems.add(where, "must be a string")
            continue
        else:
            _header_safe(value, where, problems)
        if not value:
            continue
        if option.path_segment and path_problem("/" + value) is not None:
            problems.add(where, "is one segment of the upstream path: no dot segments, slashes that make them, or backslashes")
        options[key] = value
    return MappingProxyType(options)


def _header_safe(value: str, path: str, problems: Problems) -> None:
    # Credentials and provider options end up in upstream headers (or a signature):
    # a CR/LF there was a 500 from aiohttp's client, never a request.
    problem = header_value_problem(value)
    if problem is not None:
        problems.add(path, problem)


def _unknown(provider: str, providers: Collection[str]) -> str:
    if provider in UNSUPPORTED:
        return f"provider {provider!r} is not supported by this gateway: it {UNSUPPORTED[provider]}"
    return f"unknown provider {provider!r} (known providers: {', '.join(sorted(providers))})"


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Values under these keys are data, not config: their keys are kept verbatim.
_VERBATIM_KEYS = frozenset({"override_params", "metadata", "query", "vertex_service_account_json"})


def normalise_keys(node: dict[str, Any]) -> dict[str, Any]:
    """camelCase config keys → snake_case, recursively through nested targets."""
    result: dict[str, Any] = {}
    for key, value in node.items():
        key = _CAMEL_BOUNDARY.sub("_", key).lower() if isinstance(key, str) else key
        if key not in _VERBATIM_KEYS:
            if isinstance(value, dict):
                value = normalise_keys(value)
            elif isinstance(value, list):
                value = [normalise_keys(v) if isinstance(v, dict) else v for v in value]
        result[key] = value
    return result
