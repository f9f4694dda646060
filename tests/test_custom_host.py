from __future__ import annotations

import pytest

from gateway.custom_host import HostAllowList, validate_custom_host
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


@pytest.mark.parametrize("value", ["", "localhost:8000", "http://127.0.0.1/v1?x=1", "http://127.0.0.1/v1#f", 5])
def test_invalid_custom_hosts(value):
    with pytest.raises(GatewayError) as caught:
        validate_custom_host(value, HostAllowList(), param="custom_host")
    assert caught.value.status == 400 and caught.value.param == "custom_host"
