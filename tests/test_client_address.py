"""The client address: the peer, or X-Forwarded-For read through trusted proxies only."""

from __future__ import annotations

import pytest

from gateway.client_address import TrustedProxies
from gateway.settings import SettingsError, parse_settings

PROXIES = TrustedProxies.parse("127.0.0.1, 10.0.0.0/8, fd00::/8")


def test_no_trusted_proxies_means_the_peer_whatever_the_header_says():
    assert TrustedProxies().client("127.0.0.1", "203.0.113.7") == "127.0.0.1"


def test_untrusted_peer_header_is_ignored():
    assert PROXIES.client("198.51.100.9", "203.0.113.7") == "198.51.100.9"


def test_trusted_peer_gives_the_first_untrusted_address_from_the_right():
    # The client wrote "1.2.3.4" itself; nginx (10.0.0.5) appended the real peer.
    assert PROXIES.client("127.0.0.1", "1.2.3.4, 203.0.113.7, 10.0.0.5") == "203.0.113.7"


def test_all_trusted_gives_the_leftmost():
    assert PROXIES.client("127.0.0.1", "10.1.1.1, 10.0.0.5") == "10.1.1.1"


def test_garbage_stops_at_the_last_trusted_hop():
    assert PROXIES.client("127.0.0.1", "203.0.113.7, not-an-ip") == "127.0.0.1"
    assert PROXIES.client("127.0.0.1", "") == "127.0.0.1"


def test_ipv6_and_ipv4_mapped_peers():
    assert PROXIES.client("fd00::1", "2001:db8::7") == "2001:db8::7"
    assert PROXIES.client("::ffff:127.0.0.1", "203.0.113.7") == "203.0.113.7"


def test_setting_from_environment_and_its_errors():
    settings = parse_settings([], {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1,10.0.0.0/8"})
    assert settings.trusted_proxies.trusts("10.2.3.4") and not settings.trusted_proxies.trusts("11.0.0.1")
    assert parse_settings([], {}).trusted_proxies == TrustedProxies()
    with pytest.raises(SettingsError, match="--trusted-proxies: not an IP address or CIDR network: '10.0.0.0/33'"):
        parse_settings(["--trusted-proxies", "10.0.0.0/33"], {})
