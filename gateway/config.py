"""The routing config: ``x-portkey-*`` headers and ``x-portkey-config`` → a validated Target.

A config is the JSON object of ``x-portkey-config``; the header mode
(``x-portkey-provider`` + ``Authorization``) is the same as the one-leaf config
``{"provider": ..., "api_key": ...}``. Keys may be snake_case or camelCase, as in the
wild; they are normalised to snake_case here (never inside ``override_params``, which
holds request-body parameters verbatim).

Validation errors are 400s that name the path of the bad field, e.g.
``x-portkey-config.request_timeout: must be a positive number of milliseconds``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson
from multidict import CIMultiDictProxy

from .custom_host import HostAllowList, validate_custom_host
from .errors import InvalidConfig

CONFIG_HEADER = "x-portkey-config"

# Provider-specific string options: config key → the x-portkey-* header that also sets it.
PROVIDER_OPTION_HEADERS: Mapping[str, str] = MappingProxyType(
    {
        "resource_name": "x-portkey-azure-resource-name",
        "deployment_id": "x-portkey-azure-deployment-id",
        "api_version": "x-portkey-azure-api-version",
        "aws_access_key_id": "x-portkey-aws-access-key-id",
        "aws_secret_access_key": "x-portkey-aws-secret-access-key",
        "aws_session_token": "x-portkey-aws-session-token",
        "aws_region": "x-portkey-aws-region",
        "aws_role_arn": "x-portkey-aws-role-arn",
        "aws_external_id": "x-portkey-aws-external-id",
        "aws_auth_type": "x-portkey-aws-auth-type",
        "openai_organization": "x-portkey-openai-organization",
        "openai_project": "x-portkey-openai-project",
        "anthropic_version": "x-portkey-anthropic-version",
        "anthropic_beta": "x-portkey-anthropic-beta",
    }
)

# Keys that belong to routing (issue: strategies); refused until routing supports them.
_ROUTING_KEYS = ("strategy", "targets")


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


@dataclass(frozen=True)
class RouteSpec:
    """What the config middleware hands on: the target, plus request-wide metadata."""

    target: Target
    metadata: Mapping[str, Any] = field(default_factory=dict)
    # Path of the answering target in Portkey's notation (x-portkey-last-used-option-index).
    option_path: str = "config"


def build_route(headers: CIMultiDictProxy[str], allow: HostAllowList) -> RouteSpec:
    """Headers of one request → RouteSpec, or InvalidConfig naming what is wrong."""
    config = _parse_config_header(headers.get(CONFIG_HEADER))
    metadata = _parse_metadata(headers.get("x-portkey-metadata"))
    for key in _ROUTING_KEYS:
        if key in config:
            raise InvalidConfig(
                f"{CONFIG_HEADER}.{key}: routing strategies are not supported by this gateway yet",
                param=f"{CONFIG_HEADER}.{key}",
            )
    return RouteSpec(target=_leaf(config, CONFIG_HEADER, headers, allow), metadata=metadata)


def _leaf(node: Mapping[str, Any], path: str, headers: CIMultiDictProxy[str], allow: HostAllowList) -> Target:
    provider = node.get("provider")
    if provider is None:
        provider = headers.get("x-portkey-provider")
        if not provider:
            raise InvalidConfig(
                "no provider: send the x-portkey-provider header or a provider in x-portkey-config",
                code="missing_provider",
                param="x-portkey-provider",
            )
        provider = provider.strip()
    elif not isinstance(provider, str) or not provider:
        _fail(path, "provider", "must be a non-empty string")

    api_key = node.get("api_key")
    if api_key is not None and not isinstance(api_key, str):
        _fail(path, "api_key", "must be a string")

    custom_host = headers.get("x-portkey-custom-host")
    host_param = "x-portkey-custom-host"
    if custom_host is None and node.get("custom_host") is not None:
        custom_host, host_param = node["custom_host"], f"{path}.custom_host"
    if custom_host is not None:
        custom_host = validate_custom_host(custom_host, allow, param=host_param)

    override_params = node.get("override_params", {})
    if not isinstance(override_params, dict):
        _fail(path, "override_params", "must be an object")

    forward_headers = _forward_headers(headers, node, path)
    timeout_ms = _request_timeout(headers, node, path)

    options = {}
    for key, header in PROVIDER_OPTION_HEADERS.items():
        value = node.get(key)
        if value is None:
            value = headers.get(header)
        elif not isinstance(value, str):
            _fail(path, key, "must be a string")
        if value:
            options[key] = value

    return Target(
        provider=provider.lower(),
        api_key=api_key or None,
        custom_host=custom_host,
        override_params=override_params,
        forward_headers=forward_headers,
        request_timeout_ms=timeout_ms,
        options=options,
    )


def _forward_headers(headers: CIMultiDictProxy[str], node: Mapping[str, Any], path: str) -> tuple[str, ...]:
    text = headers.get("x-portkey-forward-headers")
    if text is not None:
        names = [name.strip() for name in text.split(",") if name.strip()]
    else:
        names = node.get("forward_headers", [])
        if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
            _fail(path, "forward_headers", "must be a list of header names")
    return tuple(name.lower() for name in names)


def _request_timeout(headers: CIMultiDictProxy[str], node: Mapping[str, Any], path: str) -> int | None:
    text = headers.get("x-portkey-request-timeout")
    if text is not None:
        try:
            value = int(text)
        except ValueError:
            value = -1
        if value <= 0:
            raise InvalidConfig(
                "x-portkey-request-timeout: must be a positive whole number of milliseconds",
                param="x-portkey-request-timeout",
            )
        return value
    value = node.get("request_timeout")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        _fail(path, "request_timeout", "must be a positive number of milliseconds")
    return int(value)


def _parse_config_header(text: str | None) -> dict[str, Any]:
    if text is None or not text.strip():
        return {}
    text = text.strip()
    if not text.startswith("{"):
        raise InvalidConfig(
            f"{CONFIG_HEADER}: must be a JSON object (stored config ids are not supported)",
            param=CONFIG_HEADER,
        )
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise InvalidConfig(f"{CONFIG_HEADER}: not valid JSON ({exc})", param=CONFIG_HEADER) from None
    if not isinstance(value, dict):
        raise InvalidConfig(f"{CONFIG_HEADER}: must be a JSON object", param=CONFIG_HEADER)
    return normalise_keys(value)


def _parse_metadata(text: str | None) -> Mapping[str, Any]:
    if text is None:
        return {}
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidConfig("x-portkey-metadata: must be a JSON object", param="x-portkey-metadata")
    return value


_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
# Values under these keys are data, not config: their keys are kept verbatim.
_VERBATIM_KEYS = frozenset({"override_params", "metadata"})


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


def _fail(path: str, key: str, problem: str):
    raise InvalidConfig(f"{path}.{key}: {problem}", param=f"{path}.{key}")
