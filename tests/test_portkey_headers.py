"""The Portkey header contract: header mode, config mode, and what passes each way."""

from __future__ import annotations

import asyncio

import orjson

from tests.conftest import TEST_KEY

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}


async def test_header_mode_as_in_the_portkey_docs(client, auth_headers, fake_openai, access_lines):
    response = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={
            **auth_headers,
            "x-portkey-trace-id": "trace-123",
        },
    )
    assert response.status == 200
    assert (await response.json())["choices"][0]["message"]["content"] == "You said: Hello"
    assert response.headers["x-portkey-provider"] == "openai"
    assert response.headers["x-portkey-trace-id"] == "trace-123"
    assert response.headers["x-portkey-last-used-option-index"] == "config"
    assert response.headers["x-portkey-retry-attempt-count"] == "0"
    assert response.headers["x-portkey-cache-status"] == "DISABLED"
    # Useful upstream headers come back; the upstream's connection-level ones do not.
    assert response.headers["x-request-id"] == "req_fake_0001"
    assert response.headers["x-ratelimit-remaining-requests"] == "9999"
    assert int(response.headers["Content-Length"]) == len(await response.read())
    (line,) = access_lines()
    assert line.fields["trace_id"] == "trace-123" and line.fields["provider"] == "openai"
    assert line.fields["bytes_out"] == int(response.headers["Content-Length"])
    assert line.fields["attempts"][0]["status"] == 200


async def test_a_streamed_answer_carries_the_same_headers(client, auth_headers, fake_openai):
    # A stream's headers go out from inside the handler, before the context middleware
    # ends the request: the trace id and routing headers must be on them all the same.
    response = await client.post(
        "/v1/chat/completions",
        json={**CHAT, "stream": True},
        headers={**auth_headers, "x-portkey-trace-id": "trace-stream"},
    )
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["x-portkey-trace-id"] == "trace-stream"
    assert response.headers["x-portkey-provider"] == "openai"
    assert response.headers["x-portkey-last-used-option-index"] == "config"
    assert float(response.headers["x-gateway-overhead-ms"]) >= 0
    assert (await response.read()).endswith(b"data: [DONE]\n\n")


async def test_config_mode_with_api_key_and_camel_case(client, fake_openai):
    for config in (
        {"provider": "openai", "api_key": TEST_KEY + "-a", "custom_host": fake_openai.url},
        {"provider": "openai", "apiKey": TEST_KEY + "-b", "customHost": fake_openai.url},
    ):
        response = await client.post("/v1/chat/completions", json=CHAT, headers={"x-portkey-config": orjson.dumps(config).decode()})
        assert response.status == 200
        expected = config.get("api_key") or config.get("apiKey")
        assert fake_openai.last.headers["Authorization"] == f"Bearer {expected}"


async def test_config_key_wins_over_authorization_header(client, fake_openai):
    config = {"provider": "openai", "api_key": TEST_KEY + "-config", "custom_host": fake_openai.url}
    await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"x-portkey-config": orjson.dumps(config).decode(), "Authorization": "Bearer sk-test-header"},
    )
    assert fake_openai.last.headers["Authorization"] == f"Bearer {TEST_KEY}-config"


async def test_settings_only_config_takes_the_provider_from_headers(client, fake_openai):
    config = {"override_params": {"model": "gpt-4o"}, "custom_host": fake_openai.url}
    response = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"x-portkey-config": orjson.dumps(config).decode(), "x-portkey-provider": "openai", "Authorization": f"Bearer {TEST_KEY}"},
    )
    assert response.status == 200
    assert orjson.loads(fake_openai.last.body)["model"] == "gpt-4o"  # config wins over the body


async def test_custom_host_header_beats_the_config(client, fake_openai):
    config = {"provider": "openai", "api_key": TEST_KEY, "custom_host": "http://127.0.0.1:9/v1"}
    response = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={"x-portkey-config": orjson.dumps(config).decode(), "x-portkey-custom-host": fake_openai.url},
    )
    assert response.status == 200


async def test_what_is_forwarded_upstream(client, auth_headers, fake_openai):
    response = await client.post(
        "/v1/echo",
        json=CHAT,
        headers={
            **auth_headers,
            "x-portkey-forward-headers": "X-Team, x-tenant",
            "x-portkey-openai-organization": "org-1",
            "x-portkey-openai-project": "proj-1",
            "x-portkey-metadata": '{"user": "u1"}',
            "openai-beta": "assistants=v2",
            "X-Team": "search",
            "x-tenant": "acme",
            "x-not-listed": "private",
            "Cookie": "session=1",
        },
    )
    sent = (await response.json())["headers"]
    assert sent["x-team"] == "search" and sent["x-tenant"] == "acme"
    assert sent["openai-organization"] == "org-1" and sent["openai-project"] == "proj-1"
    assert sent["openai-beta"] == "assistants=v2"
    assert sent["authorization"] == f"Bearer {TEST_KEY}"
    for never in ("x-not-listed", "cookie", "x-portkey-provider", "x-portkey-custom-host", "x-portkey-metadata"):
        assert never not in sent


async def test_request_timeout_header_answers_408(client, auth_headers, fake_openai):
    fake_openai.hang = asyncio.Event()
    response = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={
            **auth_headers,
            "x-portkey-request-timeout": "100",
        },
    )
    assert response.status == 408
    error = (await response.json())["error"]
    assert error["type"] == "timeout_error" and "100 ms" in error["message"]
    await asyncio.wait_for(fake_openai.disconnected.wait(), timeout=10)  # the upstream call was dropped


async def test_local_server_without_a_key_gets_no_authorization(client, fake_openai):
    base = fake_openai.url.removesuffix("/v1") + "/open"
    response = await client.get("/v1/models", headers={"x-portkey-provider": "ollama", "x-portkey-custom-host": base})
    assert response.status == 200
    assert "authorization" not in (await response.json())["headers"]


async def test_azure_openai_url_and_api_key(client, fake_openai):
    base = fake_openai.url.removesuffix("/v1") + "/openai"
    response = await client.post(
        "/v1/chat/completions",
        json=CHAT,
        headers={
            "Authorization": f"Bearer {TEST_KEY}",
            "x-portkey-provider": "azure-openai",
            "x-portkey-custom-host": base,
            "x-portkey-azure-deployment-id": "gpt4o-prod",
            "x-portkey-azure-api-version": "2024-06-01",
        },
    )
    echoed = await response.json()
    assert echoed["raw_path"] == "/openai/deployments/gpt4o-prod/chat/completions?api-version=2024-06-01"
    assert echoed["headers"]["api-key"] == TEST_KEY
    assert "authorization" not in echoed["headers"]
