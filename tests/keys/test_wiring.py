"""Stored keys on the request path: API keys, virtual keys, stored configs, scopes.

Through the portkey-ai SDK (admin calls and traffic, as a user would) and raw HTTP,
on SQLite and on PostgreSQL, against the fake upstreams.
"""

from __future__ import annotations

import orjson
import portkey_ai
import pytest

from gateway.settings import Settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY, SESSION_ACCESS_KEY, SESSION_SECRET, SESSION_TOKEN, FakeBedrock
from tests.fakes.openai import FakeOpenAI
from tests.keys.admin_setup import ADMIN, ADMIN_KEY, settled, store_settings  # noqa: F401 (ADMIN_KEY: imported from here)

PROVIDER_KEY = "sk-test-provider-secret-0123456789abcdef"
ANTHROPIC_KEY = "sk-ant-test-stored-0123456789"
OTHER_PROVIDER_KEY = "sk-test-rotated-secret-9876543210fedcba"
CHAT = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture
def settings(tmp_path, store_url) -> Settings:
    return store_settings(tmp_path, store_url)


async def new_key(admin, view, **fields) -> str:
    created = await admin.api_keys.create(type="workspace", sub_type="service", name="svc", **fields)
    await settled(view)
    return created.key


async def openai_vk(admin, view, fake: FakeOpenAI, slug: str = "team-openai", key: str = PROVIDER_KEY) -> str:
    created = await admin.virtual_keys.create(name=slug, provider="openai", key=key, slug=slug, custom_host=fake.url)
    await settled(view)
    return created.slug


async def post_chat(client, headers: dict, body: dict = CHAT):
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    return response.status, await response.json()


async def test_portkey_sdk_traffic_through_a_virtual_key(admin, gateway, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    client_key = await new_key(admin, view)
    portkey = portkey_ai.AsyncPortkey(
        api_key=client_key, virtual_key=slug, base_url=str(gateway.make_url("/v1")), max_retries=0
    )
    try:
        answer = await portkey.chat.completions.create(**CHAT)
        assert answer.choices[0].message.content == "You said: hello there"
        chunks = [c async for c in await portkey.chat.completions.create(**CHAT, stream=True)]
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "You said: hello there"
    finally:
        await portkey.close()
    sent = fake_openai.last.headers
    assert sent["Authorization"] == f"Bearer {PROVIDER_KEY}"
    assert "x-portkey-api-key" not in sent and client_key not in str(dict(sent))


async def test_gateway_auth_turns_on_with_the_first_stored_key(admin, client, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    headers = {"x-portkey-virtual-key": slug}
    assert (await post_chat(client, headers))[0] == 200  # no API key stored yet: auth is off
    client_key = await new_key(admin, view)
    status, body = await post_chat(client, headers)
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    status, body = await post_chat(client, {**headers, "x-portkey-api-key": "pk-not-a-key"})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert (await post_chat(client, {**headers, "x-portkey-api-key": client_key}))[0] == 200


async def test_revoked_and_expired_keys_are_refused_with_their_own_codes(admin, client, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    client_key = await new_key(admin, view)
    expired = await new_key(admin, view, expires_at="2020-01-01T00:00:00Z")
    headers = {"x-portkey-virtual-key": slug, "x-portkey-api-key": client_key}
    assert (await post_chat(client, headers))[0] == 200
    status, body = await post_chat(client, {**headers, "x-portkey-api-key": expired})
    assert status == 401 and body["error"]["code"] == "api_key_expired"
    [stored] = [k for k in (await admin.api_keys.list()).data if k["key"].endswith(client_key[-4:])]
    await admin.api_keys.update(id=stored["id"], status="revoked")
    await settled(view)
    status, body = await post_chat(client, headers)
    assert status == 401 and body["error"]["code"] == "api_key_revoked"
    assert client_key not in orjson.dumps(body).decode()


async def test_virtual_key_in_a_config_a_target_and_the_model_string(admin, client, view, fake_openai, make_fake):
    other = await make_fake()
    first = await openai_vk(admin, view, fake_openai, "first")
    second = await openai_vk(admin, view, other, "second", OTHER_PROVIDER_KEY)
    top = {"x-portkey-config": orjson.dumps({"virtual_key": first}).decode()}
    assert (await post_chat(client, top))[0] == 200
    assert fake_openai.last.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"
    fallback = {
        "strategy": {"mode": "fallback"},
        "targets": [{"virtual_key": second, "override_params": {"model": "gpt-4o-mini"}}, {"virtual_key": first}],
    }
    status, _ = await post_chat(client, {"x-portkey-config": orjson.dumps(fallback).decode()})
    assert status == 200 and other.last.headers["Authorization"] == f"Bearer {OTHER_PROVIDER_KEY}"
    assert orjson.loads(other.last.body)["model"] == "gpt-4o-mini"
    status, _ = await post_chat(client, {}, {**CHAT, "model": f"@{second}/gpt-4.1"})
    assert status == 200 and orjson.loads(other.last.body)["model"] == "gpt-4.1"
    assert other.last.headers["Authorization"] == f"Bearer {OTHER_PROVIDER_KEY}"


async def test_stored_config_by_slug_and_as_the_keys_default(admin, client, view, fake_openai, make_fake):
    other = await make_fake()
    first = await openai_vk(admin, view, fake_openai, "first")
    second = await openai_vk(admin, view, other, "second", OTHER_PROVIDER_KEY)
    config = await admin.configs.create(name="by-team", config={
        "strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.team": {"$eq": "ml"}}, "then": "ml"}],
                     "default": "rest"},
        "targets": [{"name": "ml", "virtual_key": second}, {"name": "rest", "virtual_key": first}],
    })
    await settled(view)
    status, _ = await post_chat(client, {"x-portkey-config": config.slug, "x-portkey-metadata": '{"team": "ml"}'})
    assert status == 200 and len(other.requests) == 1
    client_key = await new_key(admin, view, defaults={"config_id": config.slug, "metadata": {"team": "ml"}})
    status, _ = await post_chat(client, {"x-portkey-api-key": client_key})
    assert status == 200 and len(other.requests) == 2  # the default config, routed on the default metadata
    status, _ = await post_chat(client, {"x-portkey-api-key": client_key, "x-portkey-metadata": '{"team": "web"}'})
    assert status == 200 and len(other.requests) == 2 and len(fake_openai.requests) == 1  # the request's own wins


async def test_an_archived_stored_config_is_refused(admin, client, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    config = await admin.configs.create(name="old", config={"virtual_key": slug})
    await settled(view)
    status, _ = await post_chat(client, {"x-portkey-config": config.slug})
    assert status == 200
    await admin.configs.update(slug=config.slug, status="archived")
    await settled(view)
    status, body = await post_chat(client, {"x-portkey-config": config.slug})
    assert status == 400 and body["error"]["code"] == "unknown_config"
    assert len(fake_openai.requests) == 1


async def test_a_virtual_keys_provider_and_key_win_over_those_named_beside_it(admin, client, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    beside = {"virtual_key": slug, "provider": "anthropic", "api_key": "sk-ant-client-key"}
    status, body = await post_chat(client, {"x-portkey-config": orjson.dumps(beside).decode()})
    assert status == 200, body
    sent = fake_openai.last
    assert sent.path == "/v1/chat/completions" and sent.headers["Authorization"] == f"Bearer {PROVIDER_KEY}"


async def test_unknown_references_are_named(admin, client, view, fake_openai):
    status, body = await post_chat(client, {"x-portkey-virtual-key": "nope"})
    assert status == 400 and body["error"]["code"] == "unknown_virtual_key" and "'nope'" in body["error"]["message"]
    status, body = await post_chat(client, {"x-portkey-config": "pc-missing"})
    assert status == 400 and body["error"]["code"] == "unknown_config" and "pc-missing" in body["error"]["message"]
    bad = {"targets": [{"virtual_key": "gone"}], "strategy": {"mode": "fallback"}}
    status, body = await post_chat(client, {"x-portkey-config": orjson.dumps(bad).decode()})
    assert status == 400 and body["error"]["param"] == "config.targets[0].virtual_key"


async def test_a_stored_credential_never_goes_to_a_host_the_client_names(admin, view, client, fake_openai, make_fake):
    elsewhere = await make_fake()
    slug = await openai_vk(admin, view, fake_openai)
    for headers in (
        {"x-portkey-virtual-key": slug, "x-portkey-custom-host": elsewhere.url},
        {"x-portkey-config": orjson.dumps({"virtual_key": slug, "custom_host": elsewhere.url}).decode()},
        {"x-portkey-config": orjson.dumps({"virtual_key": slug, "provider": "groq"}).decode(),
         "x-portkey-custom-host": elsewhere.url},
    ):
        status, body = await post_chat(client, headers)
        assert status == 400 and body["error"]["code"] == "custom_host_with_virtual_key", headers
    assert elsewhere.requests == []


async def test_scopes_refuse_what_the_key_may_not_use(admin, client, view, fake_openai, make_fake):
    other = await make_fake()
    allowed = await openai_vk(admin, view, fake_openai, "allowed")
    refused = await openai_vk(admin, view, other, "refused")
    key = await new_key(admin, view, scopes=["virtual_keys:allowed", "models:gpt-4o*"])
    headers = {"x-portkey-api-key": key}
    assert (await post_chat(client, {**headers, "x-portkey-virtual-key": allowed}))[0] == 200
    status, body = await post_chat(client, {**headers, "x-portkey-virtual-key": refused})
    assert status == 403 and "'refused'" in body["error"]["message"]
    status, body = await post_chat(client, {**headers, "x-portkey-virtual-key": allowed}, {**CHAT, "model": "o3"})
    assert status == 403 and body["error"]["code"] == "model_refused" and "'o3'" in body["error"]["message"]
    raw = {**headers, "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url,
           "Authorization": "Bearer sk-test-own"}
    status, body = await post_chat(client, raw)
    assert status == 403 and body["error"]["code"] == "raw_keys_refused"
    assert other.requests == [] and len(fake_openai.requests) == 1
    trusted = await new_key(admin, view, scopes=["providers:openai", "raw_keys", "custom_hosts"])
    assert (await post_chat(client, {**raw, "x-portkey-api-key": trusted}))[0] == 200


async def test_an_operators_stored_config_needs_no_raw_keys_scope(admin, client, view, fake_openai):
    target = {"provider": "openai", "api_key": "sk-test-operator-0123456789", "custom_host": fake_openai.url}
    config = await admin.configs.create(name="own", config=target)
    key = await new_key(admin, view, scopes=["virtual_keys:none"])  # any scope: raw keys and custom hosts need theirs
    status, body = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-config": config.slug})
    assert status == 200, body
    assert fake_openai.last.headers["Authorization"] == "Bearer sk-test-operator-0123456789"
    # The same target sent by the client is the client's own key: refused.
    status, body = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-config": orjson.dumps(target).decode()})
    assert status == 403 and body["error"]["code"] == "raw_keys_refused"
    assert len(fake_openai.requests) == 1


async def test_a_changed_or_deleted_virtual_key_is_never_served_from_the_route_cache(admin, client, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    headers = {"x-portkey-virtual-key": slug}
    assert (await post_chat(client, headers))[0] == 200
    await admin.virtual_keys.update(slug=slug, key=OTHER_PROVIDER_KEY)
    await settled(view)
    assert (await post_chat(client, headers))[0] == 200
    assert fake_openai.last.headers["Authorization"] == f"Bearer {OTHER_PROVIDER_KEY}"
    await admin.virtual_keys.delete(slug=slug)
    await settled(view)
    status, body = await post_chat(client, headers)
    assert status == 400 and body["error"]["code"] == "unknown_virtual_key"


async def test_azure_anthropic_and_bedrock_virtual_keys(admin, view, client, aiohttp_server, fake_openai, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    anthropic = FakeAnthropic()
    anthropic.url = str((await aiohttp_server(anthropic.app())).make_url("/v1"))
    bedrock = FakeBedrock(region="us-east-1")
    bedrock.url = str((await aiohttp_server(bedrock.app())).make_url("")).rstrip("/")
    await admin.virtual_keys.create(
        name="azure", provider="azure-openai", key=PROVIDER_KEY, slug="azure", custom_host=fake_openai.url.removesuffix("/v1"),
        resourceName="res", deploymentName="gpt4o-deploy", apiVersion="2024-10-21",
    )
    await admin.virtual_keys.create(name="claude", provider="anthropic", key=ANTHROPIC_KEY, slug="claude", custom_host=anthropic.url)
    await admin.virtual_keys.create(
        name="bedrock", provider="bedrock", slug="bedrock", awsAccessKeyId=ACCESS_KEY, awsSecretAccessKey=SECRET_KEY,
        awsRegion="us-east-1", custom_host=bedrock.url,
    )
    await settled(view)
    status, _ = await post_chat(client, {"x-portkey-virtual-key": "azure"})
    assert status == 200
    assert fake_openai.last.headers["api-key"] == PROVIDER_KEY
    assert fake_openai.last.raw_path == "/deployments/gpt4o-deploy/chat/completions?api-version=2024-10-21"
    status, body = await post_chat(client, {"x-portkey-virtual-key": "claude"}, {**CHAT, "model": "claude-sonnet-4-5"})
    assert status == 200 and anthropic.last.headers["x-api-key"] == ANTHROPIC_KEY
    status, body = await post_chat(client, {"x-portkey-virtual-key": "bedrock"}, {**CHAT, "model": "anthropic.claude-3-5-sonnet-20241022-v2:0"})
    assert status == 200, body  # the fake checks the SigV4 signature made with the stored keys
    assert f"Credential={ACCESS_KEY}/" in bedrock.last.headers["Authorization"]
    assert SECRET_KEY not in orjson.dumps(body).decode()


async def test_a_bedrock_virtual_key_with_temporary_credentials_signs_with_its_session_token(
    admin, view, client, aiohttp_server, monkeypatch, tmp_path
):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    bedrock = FakeBedrock(region="us-east-1")
    bedrock.url = str((await aiohttp_server(bedrock.app())).make_url("")).rstrip("/")
    await admin.virtual_keys.create(  # the portkey-ai SDK's camelCase names
        name="sts", provider="bedrock", slug="sts", awsAccessKeyId=SESSION_ACCESS_KEY, awsSecretAccessKey=SESSION_SECRET,
        awsSessionToken=SESSION_TOKEN, awsRegion="us-east-1", custom_host=bedrock.url,
    )
    await settled(view)
    status, body = await post_chat(client, {"x-portkey-virtual-key": "sts"}, {**CHAT, "model": "anthropic.claude-3-5-sonnet-20241022-v2:0"})
    assert status == 200, body  # the fake refuses this access key unless its session token is signed in
    assert bedrock.last.headers["x-amz-security-token"] == SESSION_TOKEN


async def test_the_store_down_keeps_known_keys_and_refuses_others(admin, client, view, fake_openai, monkeypatch):
    slug = await openai_vk(admin, view, fake_openai)
    known = await new_key(admin, view)
    assert (await (await client.get("/ready")).json())["store"] == "reachable"

    async def down():
        raise OSError("connection refused")

    monkeypatch.setattr(view.store, "version", down)
    polls = view.polls  # a poll in flight may still succeed; the next two cannot
    view.wake()
    await view.wait_until(lambda v: v.polls >= polls + 2, timeout=10)
    assert not view.reachable
    ready = await client.get("/ready")
    assert ready.status == 200 and (await ready.json())["store"] == "unreachable"
    assert (await post_chat(client, {"x-portkey-virtual-key": slug, "x-portkey-api-key": known}))[0] == 200
    status, body = await post_chat(client, {"x-portkey-virtual-key": slug, "x-portkey-api-key": "pk-new"})
    assert status == 503 and body["error"]["code"] == "store_unavailable"


async def test_non_utf8_api_key_is_a_401(admin, gateway, view, fake_openai):
    from tests.raw_http import raw_request

    await new_key(admin, view)
    # Written as raw bytes: an HTTP client would send the header as UTF-8.
    headers = {"x-portkey-api-key": b"pk-caf\xe9", "Content-Type": b"application/json"}
    answer = await raw_request(gateway, b"POST", b"/v1/chat/completions", headers, orjson.dumps(CHAT))
    assert answer.status == 401 and answer.json()["error"]["code"] == "invalid_api_key"
    assert fake_openai.requests == []


async def test_a_providers_scope_refuses_other_providers(admin, client, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    key = await new_key(admin, view, scopes=["providers:anthropic", "virtual_keys:*", "raw_keys", "custom_hosts"])
    status, body = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug})
    assert status == 403 and body["error"]["code"] == "scope_refused" and "'openai'" in body["error"]["message"]
    raw = {"x-portkey-api-key": key, "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url,
           "Authorization": "Bearer sk-test-own"}
    assert (await post_chat(client, raw))[0] == 403
    assert fake_openai.requests == []


async def test_a_custom_host_needs_the_custom_hosts_scope(admin, client, view, fake_openai):
    key = await new_key(admin, view, scopes=["raw_keys"])
    raw = {"x-portkey-api-key": key, "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url,
           "Authorization": "Bearer sk-test-own"}
    status, body = await post_chat(client, raw)
    assert status == 403 and body["error"]["code"] == "custom_host_refused"
    assert fake_openai.requests == []


async def test_the_virtual_keys_wildcard_allows_every_virtual_key(admin, client, view, fake_openai):
    first = await openai_vk(admin, view, fake_openai, "first")
    second = await openai_vk(admin, view, fake_openai, "second")
    key = await new_key(admin, view, scopes=["virtual_keys:*"])
    for slug in (first, second):
        assert (await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}))[0] == 200
    assert len(fake_openai.requests) == 2


async def test_a_models_scope_refuses_a_model_that_is_not_a_name(admin, client, view, fake_openai):
    slug = await openai_vk(admin, view, fake_openai)
    key = await new_key(admin, view, scopes=["virtual_keys:*", "models:gpt-4o*"])
    status, body = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug},
                                   {**CHAT, "model": ["gpt-4o", "o3"]})
    assert status == 403 and body["error"]["code"] == "model_refused"
    assert fake_openai.requests == []


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_a_keys_file_and_stored_keys_each_let_their_own_keys_in(settings, aiohttp_client, fake_openai):
    from dataclasses import replace

    from gateway.app import create_app
    from gateway.store.runtime import STORE_RUNTIME

    client = await aiohttp_client(create_app(replace(settings, api_keys=frozenset({"file-key-0123456789"}))))
    created = await (await client.post("/v1/api-keys/workspace/service", json={"name": "svc"}, headers=ADMIN)).json()
    await settled(client.server.app[STORE_RUNTIME].view)
    raw = {"x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url, "Authorization": "Bearer sk-test-own"}
    for key in ("file-key-0123456789", created["key"]):
        assert (await post_chat(client, {**raw, "x-portkey-api-key": key}))[0] == 200
    status, body = await post_chat(client, {**raw, "x-portkey-api-key": "pk-not-a-key"})
    assert status == 401 and body["error"]["code"] == "invalid_api_key"
    assert len(fake_openai.requests) == 2
