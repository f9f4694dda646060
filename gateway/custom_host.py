"""Which custom hosts a request may send traffic to.

``custom_host`` lets a client point the gateway at any base URL, which makes the
gateway a proxy into whatever network it sits in (cloud metadata endpoints, admin
ports). The operator therefore decides which hosts are reachable. The default allows
loopback only: the common self-hosted case (ollama, vLLM on the same machine) works
out of the box, and nothing else on the network is reachable until it is listed.

Each app checks custom hosts through its own :class:`CustomHosts` (``app[CUSTOM_HOSTS]``),
which remembers the hosts it has already accepted.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from aiohttp import web
from yarl import URL

from .errors import BadRequest

DEFAULT_ALLOWED_HOSTS = ("localhost", "127.0.0.0/8", "::1")
# Whitespace (any), C0/C1 controls, DEL, backslashes, lone surrogates (bytes not UTF-8).
_NOT_IN_URL = re.compile(r"[\s\x00-\x1f\x7f-\x9f\\\ud800-\udfff]")


@dataclass(frozen=True)
class HostAllowList:
    """Patterns: ``*`` (anything), ``host.name``, ``*.suffix.name``, an IP or CIDR network."""

    patterns: tuple[str, ...] = DEFAULT_ALLOWED_HOSTS

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            if not pattern or any(c in pattern for c in "/:") and not _is_network(pattern):
                raise ValueError(f"not a host name, IP address or CIDR network: {pattern!r}")

    @classmethod
    def parse(cls, text: str) -> HostAllowList:
        return cls(tuple(p.strip().lower() for p in text.split(",") if p.strip()))

    def validate(self, value: object, *, param: str) -> str:
        """``validate_custom_host`` against this list, nothing remembered."""
        return validate_custom_host(value, self, param=param)

    def allows(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        address = _ip_or_none(host)
        for pattern in self.patterns:
            if pattern == "*":
                return True
            if address is not None and _is_network(pattern):
                if address in ipaddress.ip_network(pattern, strict=False):
                    return True
            elif pattern.startswith("*."):
                if host.endswith(pattern[1:]):
                    return True
            elif host == pattern:
                return True
        return False


def _ip_or_none(host: str):
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def _is_network(pattern: str) -> bool:
    try:
        ipaddress.ip_network(pattern, strict=False)
    except ValueError:
        return False
    return True


class HostValidator(Protocol):
    """What the config layer checks custom hosts with: a CustomHosts, or a bare
    HostAllowList (nothing remembered)."""

    def validate(self, value: object, *, param: str) -> str: ...


class CustomHosts:
    """One app's allow list, and the custom hosts it has already accepted (an LRU of
    ``cache_size`` entries; 0 remembers none).

    Clients send the same few hosts again and again; parsing the URL and matching the
    allowed networks each time was ~9% of the gateway's CPU per request (before routes
    were cached too). A refused host raises, and is never remembered.
    """

    def __init__(self, allow: HostAllowList, cache_size: int) -> None:
        self.allow = allow
        self._accepted = functools.lru_cache(maxsize=cache_size)(self._check)

    def validate(self, value: object, *, param: str) -> str:
        """``validate_custom_host`` against this app's list."""
        return self._accepted(_non_empty(value, param), param)

    def clear(self) -> None:
        self._accepted.cache_clear()

    def _check(self, value: str, param: str) -> str:
        return _validated(value, self.allow, param)


CUSTOM_HOSTS = web.AppKey("custom_hosts", CustomHosts)


def custom_hosts_context(allow: HostAllowList, cache_size: int):
    """cleanup_ctx: the app's CustomHosts, forgotten on shutdown."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        app[CUSTOM_HOSTS] = hosts = CustomHosts(allow, cache_size)
        yield
        hosts.clear()

    return context


def validate_custom_host(value: object, allow: HostAllowList, *, param: str) -> str:
    """Return the custom host as a base URL without a trailing slash, or raise a 400."""
    return _validated(_non_empty(value, param), allow, param)


def _non_empty(value: object, param: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{param}: must be a non-empty URL", code="invalid_custom_host", param=param)
    return value


def _validated(value: str, allow: HostAllowList, param: str) -> str:
    value = value.strip(" ")
    if _NOT_IN_URL.search(value):
        # yarl keeps a CR/LF or a space as part of the path; the upstream request's
        # path would carry it.
        raise BadRequest(
            f"{param}: must not contain whitespace, control characters or backslashes",
            code="invalid_custom_host",
            param=param,
        )
    try:
        url = URL(value)
    except ValueError:
        raise BadRequest(f"{param}: not a valid URL", code="invalid_custom_host", param=param) from None
    if url.scheme not in ("http", "https") or not url.host:
        raise BadRequest(
            f"{param}: must be an http:// or https:// URL with a host",
            code="invalid_custom_host",
            param=param,
        )
    if url.user is not None or url.password is not None:
        raise BadRequest(
            f"{param}: must not contain credentials (user:password@)",
            code="invalid_custom_host",
            param=param,
        )
    if url.query_string or url.fragment:
        raise BadRequest(
            f"{param}: must not contain a query or fragment", code="invalid_custom_host", param=param
        )
    if not allow.allows(url.host):
        raise BadRequest(
            f"{param}: host {url.host!r} is not in the gateway's allowed custom hosts "
            "(operator setting GATEWAY_ALLOWED_CUSTOM_HOSTS)",
            status=403,
            type="permission_error",
            code="custom_host_not_allowed",
            param=param,
        )
    return str(url).rstrip("/")
