"""Values that would break an upstream request's headers are a 400 naming their field.

Before, a CR/LF in a config value or header bytes that are not UTF-8 reached aiohttp's
client, which raised (ValueError, UnicodeEncodeError): a 500 internal_error.
"""

from __future__ import annotations

import json

import pytest

from gateway.header_values import header_value_problem
from gateway.providers.registry import PROVIDERS
from gateway.settings import Settings
from tests.conftest import TEST_KEY
from tests.raw_http import raw_request

CHAT = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
NOT_UTF8 = b"\xff\xfe"


@pytest.mark.parametrize(
    "value, problem",
    [
        ("sk-abc", None),
        ("2023-06-01", None),
        ("a\tb", None),  # HTTP allows a tab inside a value
        ("café", None),
        ("sk\r\nX-Evil: 1", "must not contain control characters (CR, LF, NUL, ...)"),
        ("sk\n", "must not contain control characters (CR, LF, NUL, ...)"),
        ("a\x00b", "must not contain control characters (CR, LF, NUL, ...)"),
        ("a\x7fb", "must not contain control characters (CR, LF, NUL, ...)"),
        ("a\udcffb", "is not valid UTF-8"),
    ],
)
def test_header_value_problem(value, problem):
    assert header_value_problem(value) == problem


async def _post_config(client, config: dict, **headers: str):
    response = await client.post(
        "/v1/chat/completions", json=CHAT, headers={"x-portkey-config": json.dumps(config), **headers}
    )
    return response.status, await response.json()


# Every option some provider declares, with (the first) provider that declares it.
DECLARED_OPTIONS = {
    option.key: name for name, provider in reversed(PROVIDERS.items()) for option in provider.config_options
}


@pytest.mark.parametrize(
    "provider, option", [("openai", "api_key"), *((name, key) for key, name in sorted(DECLARED_OPTIONS.items()))]
)
async def test_a_control_character_in_a_config_value_is_a_400_naming_it(client, fake_openai, provider, option):
    config = {"provider": provider, "api_key": TEST_KEY, "custom_host": fake_openai.url, option: "v1\r\nX-Evil: 1"}
    status, body = await _post_config(client, config)
    assert status == 400, body
    assert body["error"]["param"] == f"config.{option}"
    assert body["error"]["message"] == f"config.{option}: must not contain control characters (CR, LF, NUL, ...)"
    assert "X-Evil" not in json.dumps(body)  # a secret's value is never echoed
    assert fake_openai.requests == []


async def test_a_control_character_in_a_nested_target_names_its_path(client, fake_openai):
    good = {"provider": "openai", "api_key": TEST_KEY, "custom_host": fake_openai.url}
    config = {"strategy": {"mode": "fallback"}, "targets": [good, {**good, "api_key": "sk\n"}]}
    status, body = await _post_config(client, config)
    assert status == 400 and body["error"]["param"] == "config.targets[1].api_key"
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    "value",
    ["http://127.0.0.1:1/v1\r\nX-Evil: 1", "http://127.0.0.1:1/v1\n", "http://127.0.0.1:1/v 1", "http://127.0.0.1:1/v1\t",
     "http://127.0.0.1:1\\@example.com/v1", "http://127.0.0.1:1/\x00"],
)
async def test_a_custom_host_with_whitespace_or_controls_is_a_400(client, fake_openai, value):
    status, body = await _post_config(client, {"provider": "openai", "api_key": TEST_KEY, "custom_host": value})
    assert status == 400, body
    assert body["error"]["code"] == "invalid_custom_host" and body["error"]["param"] == "config.custom_host"
    assert body["error"]["message"] == "config.custom_host: must not contain whitespace, control characters or backslashes"


async def test_a_custom_host_header_with_a_space_is_a_400(client, fake_openai):
    response = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai",
                 "x-portkey-custom-host": fake_openai.url + " /x"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["param"] == "x-portkey-custom-host"
    assert fake_openai.requests == []


@pytest.fixture
def raw_headers(fake_openai) -> dict[str, bytes]:
    return {
        "Authorization": f"Bearer {TEST_KEY}".encode(),
        "x-portkey-provider": b"openai",
        "x-portkey-custom-host": fake_openai.url.encode(),
        "Content-Type": b"application/json",
    }


@pytest.mark.parametrize(
    "name, extra",
    [
        ("Authorization", {"Authorization": b"Bearer sk-" + NOT_UTF8}),
        ("x-api-key", {"Authorization": b"", "x-api-key": b"sk-" + NOT_UTF8}),
        ("x-portkey-openai-organization", {"x-portkey-openai-organization": b"org-" + NOT_UTF8}),
        ("x-portkey-metadata", {"x-portkey-metadata": b'{"u": "' + NOT_UTF8 + b'"}'}),
        ("x-portkey-forward-headers", {"x-portkey-forward-headers": b"x-team" + NOT_UTF8}),
        ("x-team", {"x-portkey-forward-headers": b"x-team", "x-team": NOT_UTF8}),
        ("content-type", {"Content-Type": b"application/json" + NOT_UTF8}),
    ],
)
async def test_header_bytes_that_are_not_utf8_are_a_400_naming_the_header(gateway, fake_openai, raw_headers, name, extra):
    headers = {**raw_headers, **extra}
    headers = {key: value for key, value in headers.items() if value}
    answer = await raw_request(gateway, b"POST", b"/v1/chat/completions", headers, json.dumps(CHAT).encode())
    assert answer.status == 400, answer.body
    error = answer.json()["error"]
    assert error["param"] == name and error["message"] == f"{name}: is not valid UTF-8"
    assert fake_openai.requests == []


async def test_a_client_anthropic_version_that_is_not_utf8_is_a_400(gateway, fake_openai, raw_headers):
    headers = {**raw_headers, "x-portkey-provider": b"anthropic", "anthropic-version": NOT_UTF8}
    answer = await raw_request(gateway, b"POST", b"/v1/messages", headers, b"{}")
    assert answer.status == 400, answer.body
    # /v1/messages: told in Anthropic's shape, which has no "param" (issue 9, item 7).
    assert answer.json()["error"]["message"] == "anthropic-version: is not valid UTF-8"
    assert fake_openai.requests == []


class TestGatewayKeys:
    @pytest.fixture
    def settings(self) -> Settings:
        return Settings(api_keys=frozenset({"gw-key-1"}))

    async def test_a_gateway_key_that_is_not_utf8_is_a_401(self, gateway, fake_openai, raw_headers):
        headers = {**raw_headers, "x-portkey-api-key": b"gw-key-" + NOT_UTF8}
        answer = await raw_request(gateway, b"POST", b"/v1/chat/completions", headers, json.dumps(CHAT).encode())
        assert answer.status == 401
        assert answer.json()["error"]["code"] == "invalid_gateway_key"
        assert fake_openai.requests == []

    async def test_the_right_gateway_key_still_passes(self, gateway, fake_openai, raw_headers):
        headers = {**raw_headers, "x-portkey-api-key": b"gw-key-1"}
        answer = await raw_request(gateway, b"POST", b"/v1/chat/completions", headers, json.dumps(CHAT).encode())
        assert answer.status == 200
