"""The client's address for the access line, through trusted proxies only.

``X-Forwarded-For`` is whatever the client wrote, followed by what each proxy on the
way appended. Only the entries appended by proxies the operator trusts are facts, so
the header counts only when the peer itself is a trusted proxy, and then it is read
from the right: each entry that is a trusted proxy handed the request on, and the
first one that is not is the client (nginx's ``real_ip_recursive on``). Without
trusted proxies (the default), the client is the peer and the header is ignored.

    >>> proxies = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8")
    >>> proxies.client("127.0.0.1", "203.0.113.7, 10.1.2.3")
    '203.0.113.7'
    >>> proxies.client("198.51.100.9", "203.0.113.7")  # not a proxy: the header is a claim
    '198.51.100.9'
"""

from __future__ import annotations

import functools
import ipaddress
from dataclasses import dataclass

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, text: str) -> TrustedProxies:
        """A comma-separated list of IP addresses and CIDR networks; ValueError names a bad one."""
        networks = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            try:
                networks.append(ipaddress.ip_network(item, strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or CIDR network: {item!r}") from None
        return cls(tuple(networks))

    def trusts(self, address: str) -> bool:
        ip = _ip(address)
        return ip is not None and any(ip in network for network in self.networks)

    def client(self, peer: str | None, forwarded_for: str | None) -> str | None:
        if not self.networks or not forwarded_for or peer is None or not self.trusts(peer):
            return peer
        client = peer
        for entry in reversed(forwarded_for.split(",")):
            entry = entry.strip()
            if _ip(entry) is None:
                break  # garbage: the last proxy we trust is all we know
            client = entry
            if not self.trusts(entry):
                break
        return client


@functools.lru_cache(maxsize=1024)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # The same few proxy and client addresses come back request after request.
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    # An IPv4 client of a dual-stack socket shows as ::ffff:a.b.c.d.
    return getattr(address, "ipv4_mapped", None) or address
