"""Bad input gets a precise OpenAI-shaped error with the right status; nothing leaks."""

from __future__ import annotations

import orjson
import pytest

from gateway.app import create_app
from gateway.settings import Settings
from tests.conftest import TEST_KEY
from tests.fakes.openai import DROP

CHAT = orjson.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hi"}]})
SECRET = "sk-test-very-secret-value-42"


def assert_error_shape(body: dict, status_code: str) -> None:
    assert set(body) == {"error", "status", "message"}
    assert body["status"] == "failure"
    assert set(body["error"]) == {"message", "type", "param", "code"}
    assert body["error"]["code"] == status_code
    assert body["message"] == body["error"]["message"]


# (headers, body, status, code, words the message must contain)
CASES = [
    pytest.param({}, CHAT, 400, "missing_provider", "x-portkey-provider", id="no-provider"),
    pytest.param({"x-portkey-provider": "nope-ai"}, CHAT, 400, "unknown_provider", "'nope-ai'", id="unknown-provider"),
    pytest.param({"x-portkey-config": "{not json"}, CHAT, 400, "invalid_config", "not valid JSON", id="config-not-json"),
    pytest.param({"x-portkey-config": "[1, 2]"}, CHAT, 400, "invalid_config", "JSON object", id="config-array"),
    pytest.param({"x-portkey-config": "pc-abc123"}, CHAT, 400, "invalid_config", "config ids", id="config-id"),
    pytest.param(
        {"x-portkey-config": '{"provider": "openai", "request_timeout": "soon"}'},
        CHAT, 400, "invalid_config", "config.request_timeout", id="config-bad-timeout",
    ),
    pytest.param(
        {"x-portkey-config": '{"provider": "openai", "overrideParams": [1]}'},
        CHAT, 400, "invalid_config", "config.override_params: must be an object", id="config-bad-override",
    ),
    pytest.param(
        {"x-portkey-config": '{"provider": "openai", "forward_headers": "x-a"}'},
        CHAT, 400, "invalid_config", "config.forward_headers", id="config-bad-forward",
    ),
    pytest.param({"x-portkey-config": '{"provider": 7}'}, CHAT, 400, "invalid_config", "config.provider", id="config-bad-provider"),
    pytest.param(
        {"x-portkey-provider": "openai", "x-portkey-custom-host": "ftp://127.0.0.1/v1"},
        CHAT, 400, "invalid_custom_host", "http:// or https://", id="custom-host-scheme",
    ),
    pytest.param(
        {"x-portkey-provider": "openai", "x-portkey-custom-host": "http://user:pw@127.0.0.1/v1"},
        CHAT, 400, "invalid_custom_host", "credentials", id="custom-host-userinfo",
    ),
    pytest.param(
        {"x-portkey-provider": "openai", "x-portkey-custom-host": "http://169.254.169.254/latest"},
        CHAT, 403, "custom_host_not_allowed", "169.254.169.254", id="custom-host-not-allowed",
    ),
    pytest.param(
        {"x-portkey-provider": "openai", "x-portkey-request-timeout": "-5"},
        CHAT, 400, "invalid_config", "x-portkey-request-timeout", id="bad-timeout-header",
    ),
    pytest.param(
        {"x-portkey-provider": "openai", "x-portkey-metadata": "user=1"},
        CHAT, 400, "invalid_config", "x-portkey-metadata", id="bad-metadata",
    ),
    pytest.param(
        {"x-portkey-provider": "openai", "x-portkey-trace-id": "a b"},
        CHAT, 400, "invalid_trace_id", "x-portkey-trace-id", id="bad-trace-id",
    ),
    pytest.param(
        {"x-portkey-config": '{"provider": "openai", "override_params": {"model": "m"}}'},
        b'{"model": ', 400, "invalid_json", "not valid JSON", id="invalid-json-body",
    ),
    pytest.param(
        {"x-portkey-config": '{"provider": "openai", "override_params": {"model": "m"}}'},
        b"[1, 2]", 400, "invalid_json", "JSON object", id="json-body-not-object",
    ),
    pytest.param(
        {"x-portkey-provider": "ollama"}, CHAT, 400, "missing_custom_host", "x-portkey-custom-host", id="ollama-needs-host",
    ),
    pytest.param(
        {"x-portkey-provider": "azure-openai", "Authorization": f"Bearer {SECRET}"},
        CHAT, 400, "missing_provider_option", "x-portkey-azure-resource-name", id="azure-needs-resource",
    ),
]


@pytest.mark.parametrize("headers, body, status, code, words", CASES)
async def test_bad_input_table(client, headers, body, status, code, words):
    response = await client.post("/v1/chat/completions", data=body, headers={"Content-Type": "application/json", **headers})
    assert response.status == status
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.headers["x-portkey-trace-id"]
    payload = await response.json()
    assert_error_shape(payload, code)
    assert words in payload["error"]["message"]
    # The server is still up and answers the next request.
    assert (await client.get("/health")).status == 200


async def test_missing_provider_key_is_a_401_and_nothing_is_sent(client, fake_openai):
    response = await client.post(
        "/v1/chat/completions",
        data=CHAT,
        headers={"x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url},
    )
    assert response.status == 401
    assert_error_shape(await response.json(), "missing_api_key")
    assert fake_openai.requests == []


async def test_unknown_route_is_a_json_404(client):
    for path in ("/nothing", "/v2/chat/completions"):
        response = await client.post(path, data=CHAT)
        assert response.status == 404
        assert_error_shape(await response.json(), "not_found")


async def test_wrong_method_is_a_json_405(client):
    response = await client.post("/health")
    assert response.status == 405
    assert response.headers["Allow"] == "GET,HEAD"  # required on a 405 (RFC 9110)
    assert_error_shape(await response.json(), "method_not_allowed")


async def test_upstream_unreachable_is_a_502_naming_the_host(client, unused_tcp_port):
    response = await client.post(
        "/v1/chat/completions",
        data=CHAT,
        headers={
            "Authorization": f"Bearer {SECRET}",
            "x-portkey-provider": "openai",
            "x-portkey-custom-host": f"http://127.0.0.1:{unused_tcp_port}/v1",
        },
    )
    assert response.status == 502
    payload = await response.json()
    assert_error_shape(payload, "upstream_unreachable")
    assert f"127.0.0.1:{unused_tcp_port}" in payload["error"]["message"]


async def test_body_over_the_limit_is_a_413(aiohttp_client, fake_openai):
    client = await aiohttp_client(create_app(Settings(max_body_size=1000)))
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}
    declared = await client.post("/v1/chat/completions", data=b"x" * 1001, headers=headers)
    assert declared.status == 413
    assert_error_shape(await declared.json(), "request_too_large")

    async def chunked():
        for _ in range(5):
            yield b"y" * 400

    streamed = await client.post("/v1/chat/completions", data=chunked(), headers=headers)
    assert streamed.status == 413
    assert_error_shape(await streamed.json(), "request_too_large")

    read_whole = await client.post(
        "/v1/chat/completions",
        data=chunked(),
        headers={**headers, "x-portkey-config": '{"override_params": {"model": "m"}}'},
    )
    assert read_whole.status == 413
    assert_error_shape(await read_whole.json(), "request_too_large")


async def test_no_secret_in_errors_or_logs(client, fake_openai, caplog, unused_tcp_port):
    caplog.set_level("DEBUG")
    attempts = [
        {"x-portkey-config": orjson.dumps({"provider": "openai", "api_key": SECRET, "custom_host": "http://10.1.2.3/v1"}).decode()},
        {"x-portkey-config": orjson.dumps({"provider": "openai", "api_key": SECRET, "request_timeout": "x"}).decode()},
        {"Authorization": f"Bearer {SECRET}", "x-portkey-provider": "openai", "x-portkey-custom-host": f"http://127.0.0.1:{unused_tcp_port}"},
        {"Authorization": f"Bearer {SECRET}", "x-portkey-provider": "nope"},
        {"x-portkey-provider": "bedrock-ish", "x-portkey-aws-secret-access-key": SECRET},
    ]
    for headers in attempts:
        response = await client.post("/v1/chat/completions", data=CHAT, headers=headers)
        assert response.status >= 400
        assert SECRET not in await response.text()
    assert caplog.records, "the gateway logged nothing at all"
    assert SECRET not in caplog.text



@pytest.mark.parametrize("upstream", ["refused", "dropped"])
async def test_an_unreachable_upstreams_error_never_quotes_the_query(client, make_fake, unused_tcp_port, upstream):
    # Some clients put a key in the query (Google's ?key=): a 502 names the host only.
    if upstream == "refused":
        host = f"http://127.0.0.1:{unused_tcp_port}/v1"
    else:
        fake = await make_fake()
        fake.script = [DROP]
        host = fake.url
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": host}
    response = await client.post(f"/v1/chat/completions?key={SECRET}", data=CHAT, headers=headers)
    assert response.status == 502
    assert SECRET not in await response.text()

async def test_health_and_index(client):
    assert (await (await client.get("/health")).json()) == {"status": "ok"}
    index = await client.get("/")
    assert index.status == 200 and (await index.json())["api"] == "/v1/"
