"""Which methods the /v1/ routes relay: the ones provider APIs use, and no other."""

from __future__ import annotations

import pytest

from tests.raw_http import raw_request


@pytest.mark.parametrize("method", ["PUT", "PATCH", "TRACE", "PROPFIND", "OPTIONS"])
async def test_other_methods_are_a_405_naming_the_allowed_ones(client, fake_openai, auth_headers, method):
    response = await client.request(method, "/v1/chat/completions", headers=auth_headers, data=b"{}")
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "POST", "DELETE"}
    error = (await response.json())["error"]
    assert error["code"] == "method_not_allowed"
    assert error["message"] == "method not allowed here; allowed: DELETE, GET, POST"
    assert fake_openai.requests == []


async def test_a_405_echoes_neither_the_path_nor_the_method(gateway, fake_openai, auth_headers):
    """docs/errors.rst promises refusals never echo the path: one may hold an id or a key."""
    headers = {name: value.encode() for name, value in auth_headers.items()}
    answer = await raw_request(gateway, b"PUT", b"/v1/files/sk-secret-in-the-path", headers)
    assert answer.status == 405
    assert b"sk-secret" not in answer.body and b"PUT" not in answer.body
    assert fake_openai.requests == []


async def test_head_is_a_405_too(client, fake_openai, auth_headers):
    response = await client.head("/v1/models", headers=auth_headers)
    assert response.status == 405
    assert set(response.headers["Allow"].split(",")) == {"GET", "POST", "DELETE"}
    assert fake_openai.requests == []


async def test_a_405_comes_before_config_errors(client):
    response = await client.put("/v1/chat/completions")  # no provider: config would say 400
    assert response.status == 405


async def test_an_unknown_method_written_raw_is_a_405(gateway, fake_openai, auth_headers):
    headers = {name: value.encode() for name, value in auth_headers.items()}
    answer = await raw_request(gateway, b"PROPFIND", b"/v1/files", headers)
    assert answer.status == 405 and answer.json()["error"]["code"] == "method_not_allowed"
    assert fake_openai.requests == []


@pytest.mark.parametrize("method, path", [("GET", "/v1/models"), ("POST", "/v1/files"), ("DELETE", "/v1/files/file-1")])
async def test_the_provider_methods_are_relayed(client, fake_openai, auth_headers, method, path):
    response = await client.request(method, path, headers=auth_headers)
    assert response.status == 200
    assert (fake_openai.last.method, fake_openai.last.path) == (method, path)
