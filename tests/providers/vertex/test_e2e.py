"""Vertex AI end to end: the official OpenAI SDK → gateway → fake Vertex, OAuth included."""

from __future__ import annotations

import asyncio
import logging

import openai
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.conftest import openai_sdk
from tests.fakes.anthropic import tool_use
from tests.providers.vertex.conftest import EMAIL, PROJECT, service_account_json

GEMINI = "gemini-2.5-flash"
CLAUDE = "claude-sonnet-4@20250514"
BASE = f"/v1/projects/{PROJECT}/locations/us-central1/publishers"


async def test_gemini_chat_with_a_service_account_token(vertex, fake_vertex, oauth, caplog):
    caplog.set_level(logging.DEBUG)
    completion = await vertex.chat.completions.create(
        model=GEMINI, messages=[{"role": "user", "content": "Hello there"}], max_tokens=20
    )
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.usage.total_tokens == 7
    sent = fake_vertex.last
    assert sent.path == f"{BASE}/google/models/{GEMINI}:generateContent"
    assert sent.headers["Authorization"] == "Bearer ya29.fake-1"
    assert "x-goog-api-key" not in sent.headers
    assert sent.json["generationConfig"] == {"maxOutputTokens": 20}
    # The JWT the gateway signed: for the account, Vertex's scope, Google's checks passed.
    (claims,) = oauth.assertions
    assert claims["iss"] == EMAIL and claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"
    # The key is a secret: no log line (access line included) shows it or the token.
    assert any(record.name == "gateway.access" for record in caplog.records)
    for record in caplog.records:
        text = record.getMessage() + repr(getattr(record, "fields", ""))
        assert "PRIVATE KEY" not in text and "ya29." not in text


async def test_gemini_stream_and_token_reused(vertex, fake_vertex, oauth):
    for _ in range(2):
        stream = await vertex.chat.completions.create(
            model=GEMINI,
            messages=[{"role": "user", "content": "Hello there"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: Hello there"
        assert chunks[-1].usage.total_tokens == 7
    assert fake_vertex.last.path.endswith(":streamGenerateContent") and fake_vertex.last.query == "alt=sse"
    assert oauth.fetches == 1  # cached: one token for both calls


async def test_claude_through_raw_predict(vertex, fake_vertex):
    completion = await vertex.chat.completions.create(
        model=CLAUDE,
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello there"}],
        max_tokens=64,
    )
    assert completion.choices[0].message.content == "You said: Hello there"
    assert completion.choices[0].finish_reason == "stop"
    sent = fake_vertex.last
    assert sent.path == f"{BASE}/anthropic/models/{CLAUDE}:rawPredict"
    assert sent.json["anthropic_version"] == "vertex-2023-10-16" and "model" not in sent.json
    assert sent.json["system"] == [{"type": "text", "text": "Be brief."}] or sent.json["system"] == "Be brief."


async def test_claude_stream_with_a_tool_call(vertex, fake_vertex):
    fake_vertex.anthropic.reply = [tool_use("toolu_01", "get_weather", {"city": "Paris"})]
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    stream = await vertex.chat.completions.create(
        model=CLAUDE, messages=[{"role": "user", "content": "Weather?"}], tools=[tool], stream=True
    )
    chunks = [chunk async for chunk in stream]
    calls = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or ()]
    assert calls[0].id == "toolu_01" and calls[0].function.name == "get_weather"
    assert orjson.loads("".join(call.function.arguments or "" for call in calls)) == {"city": "Paris"}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert fake_vertex.last.path.endswith(":streamRawPredict") and fake_vertex.last.json["stream"] is True


async def test_embeddings_through_predict(vertex, fake_vertex):
    answer = await vertex.embeddings.create(
        model="text-embedding-005", input=["one two", "three"], dimensions=3, encoding_format="float"
    )
    assert [len(item.embedding) for item in answer.data] == [3, 3]
    assert answer.usage.prompt_tokens == 3
    sent = fake_vertex.last
    assert sent.path == f"{BASE}/google/models/text-embedding-005:predict"
    assert sent.json == {
        "instances": [{"content": "one two"}, {"content": "three"}],
        "parameters": {"outputDimensionality": 3},
    }


async def test_config_object_project_and_region(gateway, fake_vertex, account, tokens):
    config = {
        "provider": "vertex-ai",
        "custom_host": fake_vertex.url,
        "vertex_service_account_json": account,
        "vertex_project_id": "other-project-9",
        "vertexRegion": "europe-west4",
    }
    client = openai_sdk(gateway, "unused", {"x-portkey-config": orjson.dumps(config).decode()})
    try:
        await client.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "Hi"}])
    finally:
        await client.close()
    assert fake_vertex.last.path.startswith("/v1/projects/other-project-9/locations/europe-west4/publishers/google/")


async def test_concurrent_first_calls_share_one_token_fetch(vertex, fake_vertex, oauth):
    oauth.gate_from = 1
    calls = [
        asyncio.ensure_future(
            vertex.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "Hi"}])
        )
        for _ in range(5)
    ]
    await oauth.fetched.wait()
    oauth.gate.set()
    await asyncio.gather(*calls)
    assert oauth.fetches == 1
    assert {r.headers["Authorization"] for r in fake_vertex.requests} == {"Bearer ya29.fake-1"}


async def test_background_refresh_never_holds_a_request(vertex, fake_vertex, oauth, tokens):
    # Refresh 0.1 s after each fetch: the second fetch is then held at the token endpoint.
    tokens.refresh_ahead_s = oauth.expires_in - 0.1
    tokens.min_refresh_interval_s = 0
    oauth.gate_from = 2
    await vertex.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "Hi"}])
    await oauth.wait_fetches(2)  # the background refresh is under way, and held
    assert oauth.fetches == 2
    completion = await asyncio.wait_for(
        vertex.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "Hi"}]), 5
    )
    assert completion.choices[0].message.content == "You said: Hi"
    assert fake_vertex.last.headers["Authorization"] == "Bearer ya29.fake-1"


async def test_a_key_google_does_not_know_is_a_401(gateway, fake_vertex, oauth, tokens):
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # same kid, other key
    account = service_account_json(stranger, oauth.url)
    headers = {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-custom-host": fake_vertex.url,
        "x-portkey-vertex-service-account-json": orjson.dumps(account).decode(),
    }
    client = openai_sdk(gateway, "unused", headers)
    try:
        with pytest.raises(openai.AuthenticationError) as caught:
            await client.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "Hi"}])
    finally:
        await client.close()
    error = caught.value.body
    assert error["code"] == "vertex_token_refused"
    assert "invalid_grant" in error["message"] and "Invalid JWT Signature" in error["message"]
    assert "PRIVATE KEY" not in caught.value.response.text
    assert fake_vertex.requests == []


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"token_uri": "http://169.254.169.254/token"}, "invalid_vertex_credentials"),
        ({"private_key": "not a key"}, "invalid_vertex_credentials"),
        ({"project_id": None}, "missing_vertex_project"),
    ],
)
async def test_unusable_service_accounts_are_400s(gateway, fake_vertex, account, tokens, change, code, monkeypatch):
    monkeypatch.delenv("GOOGLE_CLOUD_PROJECT", raising=False)
    account = {key: value for key, value in {**account, **change}.items() if value is not None}
    headers = {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-custom-host": fake_vertex.url,
        "x-portkey-vertex-service-account-json": orjson.dumps(account).decode(),
    }
    client = openai_sdk(gateway, "unused", headers)
    try:
        with pytest.raises(openai.BadRequestError) as caught:
            await client.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "Hi"}])
    finally:
        await client.close()
    assert caught.value.body["code"] == code
    assert "PRIVATE KEY" not in caught.value.response.text and "not a key" not in caught.value.response.text
    assert fake_vertex.requests == []


async def test_vertex_errors_are_translated(vertex, fake_vertex):
    with pytest.raises(openai.NotFoundError) as caught:
        await vertex.chat.completions.create(model="gemini-missing-1", messages=[{"role": "user", "content": "Hi"}])
    assert caught.value.body["code"] == "not_found"
    with pytest.raises(openai.NotFoundError) as caught:
        await vertex.chat.completions.create(
            model="claude-missing-1", messages=[{"role": "user", "content": "Hi"}], max_tokens=5
        )
    assert caught.value.body["code"] == "not_found_error"


async def test_without_a_key_the_gateway_uses_application_default_credentials(
    gateway, fake_vertex, oauth, account, tokens, tmp_path, monkeypatch
):
    # ADC from a key file (GOOGLE_APPLICATION_CREDENTIALS), its token_uri the fake's:
    # the operator's own choice, so not held to Google's endpoint like a client's key.
    key_file = tmp_path / "adc.json"
    key_file.write_bytes(orjson.dumps(account))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key_file))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "adc-project-7")
    tokens.token_uris.clear()
    client = openai_sdk(
        gateway, "unused", {"x-portkey-provider": "vertex-ai", "x-portkey-custom-host": fake_vertex.url}
    )
    try:
        completion = await client.chat.completions.create(model=GEMINI, messages=[{"role": "user", "content": "Hi"}])
    finally:
        await client.close()
    assert completion.choices[0].message.content == "You said: Hi"
    assert fake_vertex.last.path.startswith("/v1/projects/adc-project-7/locations/us-central1/")
    assert fake_vertex.last.headers["Authorization"] == "Bearer ya29.fake-1"
    assert oauth.assertions[0]["iss"] == EMAIL
