from __future__ import annotations

import pytest

from gateway import custom_host
from gateway.custom_host import CustomHosts, HostAllowList, validate_custom_host
from gateway.errors import GatewayError


@pytest.mark.parametrize(
    "patterns, host, allowed",
    [
        (("localhost", "127.0.0.0/8", "::1"), "127.0.0.1", True),
        (("localhost", "127.0.0.0/8", "::1"), "127.9.9.9", True),
        (("localhost", "127.0.0.0/8", "::1"), "LOCALHOST", True),
        (("localhost", "127.0.0.0/8", "::1"), "[::1]", True),
        (("localhost", "127.0.0.0/8", "::1"), "169.254.169.254", False),
        (("localhost", "127.0.0.0/8", "::1"), "example.com", False),
        (("*.internal.example",), "vllm.internal.example", True),
        (("*.internal.example",), "internal.example.evil.com", False),
        (("*.internal.example",), "evilinternal.example", False),  # a suffix starts at a dot
        (("10.0.0.0/8",), "10.2.3.4", True),
        (("10.0.0.0/8",), "11.2.3.4", False),
        (("*",), "anything.example", True),
    ],
)
def test_allow_list(patterns, host, allowed):
    assert HostAllowList(patterns).allows(host) is allowed


def test_bad_patterns_are_refused_at_start():
    with pytest.raises(ValueError):
        HostAllowList.parse("http://x/y")


def test_valid_custom_host_is_normalised():
    assert validate_custom_host(" http://127.0.0.1:8000/v1/ ", HostAllowList(), param="p") == "http://127.0.0.1:8000/v1"


@pytest.mark.parametrize(
    "value",
    ["", "localhost:8000", "http://127.0.0.1/v1?x=1", "http://127.0.0.1/v1#f", 5, "http://user@127.0.0.1/v1",
     "http://user:pw@127.0.0.1/v1"],
)
def test_invalid_custom_hosts(value):
    with pytest.raises(GatewayError) as caught:
        validate_custom_host(value, HostAllowList(), param="custom_host")
    assert caught.value.status == 400 and caught.value.param == "custom_host"


@pytest.fixture
def checks(monkeypatch) -> list[str]:
    """Every custom host really parsed and matched (not answered from a CustomHosts)."""
    seen: list[str] = []
    real = custom_host._validated

    def counting(value, allow, param):
        seen.append(value)
        return real(value, allow, param)

    monkeypatch.setattr(custom_host, "_validated", counting)
    return seen


def test_custom_hosts_remember_accepted_hosts_each_for_itself(checks):
    first, second = CustomHosts(HostAllowList(), 8), CustomHosts(HostAllowList(), 8)
    for _ in range(3):
        assert first.validate("http://127.0.0.1:8000/v1/", param="p") == "http://127.0.0.1:8000/v1"
    assert checks == ["http://127.0.0.1:8000/v1/"]
    second.validate("http://127.0.0.1:8000/v1/", param="p")
    assert len(checks) == 2  # another app's CustomHosts checks for itself


def test_custom_hosts_keep_at_most_cache_size_hosts(checks):
    hosts = CustomHosts(HostAllowList(), 2)
    for value in ("http://127.0.0.1:1", "http://127.0.0.1:2", "http://127.0.0.1:3", "http://127.0.0.1:3"):
        hosts.validate(value, param="p")
    assert len(checks) == 3
    hosts.validate("http://127.0.0.1:1", param="p")  # the least recently used: forgotten
    assert len(checks) == 4


def test_custom_hosts_never_remember_a_refused_host(checks):
    hosts = CustomHosts(HostAllowList(), 8)
    for _ in range(2):
        with pytest.raises(GatewayError) as caught:
            hosts.validate("http://169.254.169.254/latest", param="config.custom_host")
        assert caught.value.status == 403 and caught.value.param == "config.custom_host"
    assert len(checks) == 2
