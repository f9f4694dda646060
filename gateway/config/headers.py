"""What the request's own ``x-portkey-*`` headers say about routing.

Three headers beat the config at every target: ``x-portkey-custom-host``,
``x-portkey-forward-headers`` and ``x-portkey-request-timeout``. The others are
defaults the config may override: ``x-portkey-provider`` (for targets that name no
provider), ``x-portkey-retry-count`` (for a config without ``retry`` at its top), the
option headers each provider declares (``x-portkey-aws-*``, ``x-portkey-azure-*``, ...) and the
client's ``Authorization`` key (see ``tree.build_route`` for which targets get it).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from ..custom_host import HostValidator
from ..errors import BadRequest, InvalidConfig
from ..header_values import checked_client_value
from .leaf import normalise_keys
from .policy import RetryPolicy, parse_retry_count_header
from .problems import Problems

CONFIG_HEADER = "x-portkey-config"
# Per-request data (logs, conditional routing's ``metadata.*``): never part of a route.
METADATA_HEADER = "x-portkey-metadata"
_NO_METADATA: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class HeaderSettings:
    provider: str | None = None
    custom_host: str | None = None
    forward_headers: tuple[str, ...] | None = None
    request_timeout_ms: int | None = None
    retry: RetryPolicy | None = None
    # The received routing headers, where each target's provider reads its options
    # (``x-portkey-aws-region``, ...): they may hold secrets.
    received: CIMultiDictProxy[str] = field(default_factory=lambda: CIMultiDictProxy(CIMultiDict()), repr=False)
    # The client's provider key (Authorization / x-api-key): a secret.
    api_key: str | None = field(default=None, repr=False)


def read_headers(
    headers: CIMultiDictProxy[str], hosts: HostValidator, api_key: str | None, problems: Problems
) -> HeaderSettings:
    provider = (headers.get("x-portkey-provider") or "").strip().lower() or None
    custom_host = headers.get("x-portkey-custom-host")
    if custom_host is not None:
        try:
            custom_host = hosts.validate(custom_host, param="x-portkey-custom-host")
        except BadRequest as exc:
            problems.add_error(exc)
            custom_host = None
    forward = headers.get("x-portkey-forward-headers")
    forward_headers = None
    if forward is not None:
        forward_headers = tuple(name.strip().lower() for name in forward.split(",") if name.strip())
    return HeaderSettings(
        provider=provider,
        custom_host=custom_host,
        forward_headers=forward_headers,
        request_timeout_ms=_request_timeout(headers.get("x-portkey-request-timeout"), problems),
        retry=parse_retry_count_header(headers.get("x-portkey-retry-count"), problems),
        received=headers,
        api_key=api_key,
    )


def _request_timeout(text: str | None, problems: Problems) -> int | None:
    if text is None:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        value = -1
    if value <= 0:
        problems.add("x-portkey-request-timeout", "must be a positive whole number of milliseconds")
        return None
    return value


def parse_config_header(text: str | None) -> dict[str, Any]:
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


def parse_metadata(text: str | None) -> Mapping[str, Any]:
    """The ``x-portkey-metadata`` JSON object (empty when absent), or a 400."""
    if text is None:
        return _NO_METADATA
    checked_client_value(text, METADATA_HEADER)
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = None
    if not isinstance(value, dict):
        raise InvalidConfig(f"{METADATA_HEADER}: must be a JSON object", param=METADATA_HEADER)
    return value
