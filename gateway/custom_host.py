"""Which custom hosts a request may send traffic to.

``custom_host`` lets a client point the gateway at any base URL, which makes the
gateway a proxy into whatever network it sits in (cloud metadata endpoints, admin
ports). The operator therefore decides which hosts are reachable. The default allows
loopback only: the common self-hosted case (ollama, vLLM on the same machine) works
out of the box, and nothing else on the network is reachable until it is listed.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass

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


def validate_custom_host(value: object, allow: HostAllowList, *, param: str) -> str:
    """Return the custom host as a base URL without a trailing slash, or raise a 400."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest(f"{param}: must be a non-empty URL", code="invalid_custom_host", param=param)
    return _validated(value, allow, param)


# Clients send the same few hosts on every request; parsing the URL and the allowed
# networks each time was ~9% of the gateway's CPU per request. Errors are not cached.
@functools.lru_cache(maxsize=256)
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
