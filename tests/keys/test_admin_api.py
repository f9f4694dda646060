"""The admin API through the official portkey-ai SDK and through raw HTTP, on both stores."""

from __future__ import annotations

import logging

import portkey_ai
import pytest
from portkey_ai.api_resources.exceptions import BadRequestError, NotFoundError

from gateway.settings import Settings
from gateway.store.runtime import STORE_RUNTIME

ADMIN_KEY = "admin-key-0123456789abcdef"
PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"
AWS_SECRET = "aws-secret-access-key-0123456789"


@pytest.fixture
def settings(tmp_path, store_url) -> Settings:
    (tmp_path / "admin.key").write_text(ADMIN_KEY + "\n")
    (tmp_path / "master.key").write_text("a master key of more than thirty-two bytes, for tests\n")
    return Settings(
        store=store_url,
        admin_key_file=str(tmp_path / "admin.key"),
        master_key_file=str(tmp_path / "master.key"),
    )


@pytest.fixture
async def portkey(gateway):
    client = portkey_ai.AsyncPortkey(api_key=ADMIN_KEY, base_url=str(gateway.make_url("/v1")), max_retries=0)
    yield client
    await client.close()


ADMIN = {"x-portkey-api-key": ADMIN_KEY}


async def test_virtual_keys_with_the_portkey_sdk(portkey, gateway, caplog):
    caplog.set_level(logging.INFO, logger="gateway.audit")
    created = await portkey.virtual_keys.create(
        name="Team OpenAI", provider="openai", key=PROVIDER_KEY, note="main",
        usage_limits={"credit_limit": 10, "periodic_reset": "monthly", "alert_threshold": 8},
    )
    assert created.object == "virtual-key" and created.id and created.slug.startswith("team-openai-")
    bedrock = await portkey.virtual_keys.create(
        name="bedrock", provider="bedrock", awsAccessKeyId="AKIAEXAMPLE", awsSecretAccessKey=AWS_SECRET,
        awsRegion="eu-west-1", slug="bedrock-eu",
    )
    assert bedrock.slug == "bedrock-eu"
    listed = await portkey.virtual_keys.list()
    assert listed.object == "list" and listed.total == 2
    first = listed.data[0]
    assert first["slug"] == created.slug and first["masked_api_key"] == "sk-p****cdef"
    assert first["ai_provider_name"] == "openai" and first["usage_limits"]["credit_limit"] == 10
    got = await portkey.virtual_keys.retrieve(slug="bedrock-eu")
    # pydantic reserves the attribute name model_config: the SDK keeps the field in model_extra
    assert got.model_extra["model_config"] == {"awsAccessKeyId": "AKIAEXAMPLE", "awsRegion": "eu-west-1"}
    updated = await portkey.virtual_keys.update(
        slug=created.slug, note="rotated", rate_limits=[{"type": "requests", "unit": "rpm", "value": 60}]
    )
    assert updated.slug == created.slug
    got = await portkey.virtual_keys.retrieve(slug=created.slug)
    assert got.note == "rotated" and got.rate_limits == [{"type": "requests", "unit": "rpm", "value": 60}]
    await portkey.virtual_keys.delete(slug=created.slug)
    with pytest.raises(NotFoundError):
        await portkey.virtual_keys.retrieve(slug=created.slug)
    actions = [(r.fields["action"], r.fields["id"]) for r in caplog.records if r.name == "gateway.audit"]
    assert actions == [
        ("virtual_key.create", created.id), ("virtual_key.create", bedrock.id),
        ("virtual_key.update", created.id), ("virtual_key.delete", created.id),
    ]
    assert all(r.fields["actor"] == "admin" for r in caplog.records if r.name == "gateway.audit")
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'fields', '')}" for r in caplog.records)
    assert PROVIDER_KEY not in logged and AWS_SECRET not in logged


async def test_api_keys_with_the_portkey_sdk(portkey, gateway):
    config = await portkey.configs.create(name="default", config={"retry": {"attempts": 2}})
    created = await portkey.api_keys.create(
        type="workspace", sub_type="service", name="billing-svc", scopes=["completions.write"],
        defaults={"metadata": {"team": "billing"}, "config_id": config.slug},
        rate_limits=[{"type": "requests", "unit": "rpm", "value": 100}], expires_at="2030-01-01T00:00:00Z",
    )
    assert created.object == "api-key" and created.key.startswith("pk-") and len(created.key) > 40
    listed = await portkey.api_keys.list()
    assert listed.total == 1 and listed.data[0]["key"] == created.key[:7] + "****" + created.key[-4:]
    got = await portkey.api_keys.retrieve(id=created.id)
    assert got.name == "billing-svc" and got.scopes == ["completions.write"] and got.type == "workspace-service"
    assert got.defaults == {"metadata": {"team": "billing"}, "config_id": config.slug}
    await portkey.api_keys.update(id=created.id, name="billing", status="revoked")
    got = await portkey.api_keys.retrieve(id=created.id)
    assert got.name == "billing" and got.status == "revoked"
    view = gateway.app[STORE_RUNTIME].view
    await view.wait_until(lambda v: v.current.api_key(created.key) is not None and v.current.api_key(created.key).status == "revoked", timeout=5)
    await portkey.api_keys.delete(id=created.id)
    assert (await portkey.api_keys.list()).total == 0


async def test_configs_with_the_portkey_sdk(portkey, gateway):
    vk = await portkey.virtual_keys.create(name="oa", provider="openai", key=PROVIDER_KEY)
    body = {"strategy": {"mode": "fallback"}, "targets": [{"virtual_key": vk.slug}, {"provider": "groq", "api_key": "gsk-secret-value-123456"}]}
    created = await portkey.configs.create(name="Fallback", config=body)
    assert created.slug.startswith("pc-fallback-") and created.id and created.version_id
    got = await portkey.configs.retrieve(slug=created.slug)
    assert got.config["targets"][1]["api_key"] == "gsk-****3456"  # keys in a config are masked
    updated = await portkey.configs.update(slug=created.slug, name="Renamed", config={"retry": {"attempts": 1}})
    assert updated.version_id != created.version_id
    got = await portkey.configs.retrieve(slug=created.id)  # by id too
    assert got.name == "Renamed" and got.config == {"retry": {"attempts": 1}}
    assert (await portkey.configs.list()).total == 1
    view = gateway.app[STORE_RUNTIME].view
    await view.wait_until(lambda v: v.current.config(created.slug) is not None and v.current.config(created.slug).name == "Renamed", timeout=5)
    await portkey.configs.delete(slug=created.slug)
    with pytest.raises(NotFoundError):
        await portkey.configs.retrieve(slug=created.slug)


async def test_a_bad_config_is_refused_with_the_parsers_path_named_errors(portkey):
    with pytest.raises(BadRequestError) as raised:
        await portkey.configs.create(name="bad", config={"strategy": {"mode": "sideways"}, "targets": [{"provider": "openai"}]})
    assert "config.strategy.mode: must be one of single, fallback, loadbalance, conditional" in str(raised.value)
    with pytest.raises(BadRequestError) as raised:
        await portkey.configs.create(name="bad", config={"strategy": {"mode": "single"}, "targets": [{"virtual_key": "nope"}]})
    assert "config.targets[0].virtual_key: no virtual key 'nope'" in str(raised.value)


async def test_admin_routes_need_the_admin_key(client):
    for headers in ({}, {"x-portkey-api-key": "wrong-key-0123456789"}, {"Authorization": "Bearer nope"}):
        response = await client.get("/v1/virtual-keys", headers=headers)
        assert response.status == 401
        assert (await response.json())["error"]["code"] == "invalid_admin_key"
    response = await client.get("/v1/configs", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    assert response.status == 200


@pytest.mark.parametrize("settings", [Settings()], indirect=False)
async def test_without_an_admin_key_the_admin_api_is_off(client):
    response = await client.post("/v1/virtual-keys", json={"name": "x", "provider": "openai"}, headers=ADMIN)
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "admin_api_disabled"


async def test_a_config_update_sets_and_clears_is_default(client):
    created = await (await client.post("/v1/configs", json={"name": "d", "config": {"retry": {"attempts": 1}}}, headers=ADMIN)).json()
    for flag in (1, 0):
        response = await client.put(f"/v1/configs/{created['slug']}", json={"is_default": flag}, headers=ADMIN)
        assert response.status == 200, await response.text()
        got = await (await client.get(f"/v1/configs/{created['slug']}", headers=ADMIN)).json()
        assert got["is_default"] == flag


async def test_malformed_bodies_name_their_fields(client):
    cases = [
        ("/v1/virtual-keys", b"not json", "body: not valid JSON"),
        ("/v1/virtual-keys", b"[1]", "body: must be a JSON object"),
        ("/v1/virtual-keys", b'{"provider": "openai"}', "name: required"),
        ("/v1/virtual-keys", b'{"name": "x", "provider": "nope"}', "provider: unknown provider 'nope'"),
        ("/v1/virtual-keys", b'{"name": "x", "provider": "openai", "rate_limits": [{"type": "requests", "unit": "rps", "value": 0}]}',
         "rate_limits[0].unit: must be one of rpm, rph, rpd; rate_limits[0].value: must be a whole number from 1"),
        ("/v1/virtual-keys", b'{"name": "x", "provider": "azure-openai", "key": "k"}', "resourceName: required for azure-openai"),
        ("/v1/virtual-keys", b'{"name": "x", "provider": "bedrock", "awsAccessKeyId": "AKIA1"}',
         "awsSecretAccessKey: awsAccessKeyId and awsSecretAccessKey go together"),
        ("/v1/virtual-keys", b'{"name": "x", "provider": "openai", "usage_limits": {"periodic_reset": "daily"}}',
         "usage_limits.periodic_reset: must be one of monthly, weekly"),
        ("/v1/api-keys/workspace/service", b'{"name": "x", "expires_at": "tomorrow"}', "expires_at: must be an ISO 8601 time"),
        ("/v1/api-keys/workspace/service", b'{"name": "x", "defaults": {"config_id": "pc-none"}}', "defaults.config_id: no stored config 'pc-none'"),
        ("/v1/api-keys/galaxy/service", b'{"name": "x"}', "type: must be one of organisation, workspace"),
        ("/v1/configs", b'{"name": "x"}', "config: required"),
        ("/v1/configs", b'{"name": "x", "config": {}}', "config: must not be empty"),
    ]
    for path, body, message in cases:
        response = await client.post(path, data=body, headers=ADMIN)
        answer = await response.json()
        assert response.status == 400, (path, body, answer)
        assert answer["error"]["message"].startswith(message), answer
        assert answer["error"]["param"] == message.split(":")[0]


async def test_duplicate_slug_409_unknown_404_wrong_method_405(client):
    body = {"name": "x", "provider": "openai", "key": PROVIDER_KEY, "slug": "dup"}
    assert (await client.post("/v1/virtual-keys", json=body, headers=ADMIN)).status == 200
    response = await client.post("/v1/virtual-keys", json=body, headers=ADMIN)
    assert response.status == 409 and (await response.json())["error"]["code"] == "conflict"
    for path in ("/v1/virtual-keys/nope", "/v1/api-keys/nope", "/v1/configs/pc-nope", "/v1/virtual-keys/a/b"):
        response = await client.get(path, headers=ADMIN)
        assert response.status == 404, path
    response = await client.patch("/v1/virtual-keys/dup", json={}, headers=ADMIN)
    assert response.status == 405


async def test_no_answer_carries_a_secret(client):
    bodies = []
    body = {"name": "b", "provider": "bedrock", "awsAccessKeyId": "AKIA1", "awsSecretAccessKey": AWS_SECRET, "awsSessionToken": "tok-secret-session-0123", "slug": "b"}
    for method, path, payload in [
        ("POST", "/v1/virtual-keys", body),
        ("POST", "/v1/virtual-keys", {"name": "o", "provider": "openai", "key": PROVIDER_KEY, "slug": "o"}),
        ("GET", "/v1/virtual-keys", None), ("GET", "/v1/virtual-keys/b", None), ("GET", "/v1/virtual-keys/o", None),
        ("PUT", "/v1/virtual-keys/o", {"note": "n"}),
    ]:
        response = await client.request(method, path, json=payload, headers=ADMIN)
        assert response.status == 200
        bodies.append(await response.text())
    text = "\n".join(bodies)
    for secret in (PROVIDER_KEY, AWS_SECRET, "tok-secret-session-0123"):
        assert secret not in text


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_admin_routes_skip_the_data_plane_key_check(tmp_path, aiohttp_client, settings):
    """With --api-keys-file the data plane needs a client key; the admin API needs its own."""
    from dataclasses import replace

    from gateway.app import create_app

    client = await aiohttp_client(create_app(replace(settings, api_keys=frozenset({"client-key"}))))
    assert (await client.get("/v1/virtual-keys", headers=ADMIN)).status == 200
    assert (await client.get("/v1/models", headers=ADMIN)).status == 401


async def test_storing_a_credential_without_a_master_key_is_refused(tmp_path, aiohttp_client, settings):
    from dataclasses import replace

    from gateway.app import create_app

    client = await aiohttp_client(create_app(replace(settings, master_key_file=None)))
    response = await client.post("/v1/virtual-keys", json={"name": "o", "provider": "openai", "key": PROVIDER_KEY}, headers=ADMIN)
    assert response.status == 503
    answer = await response.json()
    assert answer["error"]["code"] == "master_key_missing" and "--master-key-file" in answer["error"]["message"]
    response = await client.post("/v1/configs", json={"name": "plain", "config": {"retry": {"attempts": 1}}}, headers=ADMIN)
    assert response.status == 200  # nothing secret in it: no master key needed


async def test_a_change_made_through_one_gateway_reaches_another_within_the_bound(aiohttp_client, settings, client):
    """Two gateways (as two workers or two machines would) on one store."""
    from gateway.app import create_app
    from gateway.store import REFRESH_BOUND_S

    other = await aiohttp_client(create_app(settings))
    view = other.app[STORE_RUNTIME].view
    response = await client.post("/v1/virtual-keys", json={"name": "o", "provider": "openai", "key": PROVIDER_KEY, "slug": "shared"}, headers=ADMIN)
    assert response.status == 200
    await view.wait_until(lambda v: "shared" in v.current.virtual_keys, timeout=REFRESH_BOUND_S * 3)
    assert view.current.virtual_key("shared").credentials.api_key == PROVIDER_KEY
    assert (await client.delete("/v1/virtual-keys/shared", headers=ADMIN)).status == 200
    await view.wait_until(lambda v: "shared" not in v.current.virtual_keys, timeout=REFRESH_BOUND_S * 3)


async def test_a_short_provider_key_is_masked_whole(client):
    body = {"name": "s", "provider": "openai", "key": "sk-short9", "slug": "s"}
    assert (await client.post("/v1/virtual-keys", json=body, headers=ADMIN)).status == 200
    answer = await (await client.get("/v1/virtual-keys/s", headers=ADMIN)).json()
    assert answer["masked_api_key"] == "*********"  # too short to show its ends safely
    listing = await (await client.get("/v1/virtual-keys", headers=ADMIN)).text()
    assert "sk-short9" not in listing and "hort" not in listing


async def test_a_virtual_keys_provider_cannot_change(client):
    body = {"name": "o", "provider": "openai", "key": PROVIDER_KEY, "slug": "o"}
    assert (await client.post("/v1/virtual-keys", json=body, headers=ADMIN)).status == 200
    # Its key would then go to another provider's host.
    response = await client.put("/v1/virtual-keys/o", json={"provider": "groq"}, headers=ADMIN)
    answer = await response.json()
    assert response.status == 400 and answer["error"]["param"] == "provider"
    assert (await (await client.get("/v1/virtual-keys/o", headers=ADMIN)).json())["provider"] == "openai"


async def test_api_keys_are_listed_a_page_at_a_time(client):
    for name in ("a", "b", "c"):
        assert (await client.post("/v1/api-keys/workspace/service", json={"name": name}, headers=ADMIN)).status == 200
    pages = []
    for page in (0, 1, 2):
        answer = await (await client.get(f"/v1/api-keys?page_size=2&current_page={page}", headers=ADMIN)).json()
        assert answer["total"] == 3
        pages.append([key["name"] for key in answer["data"]])
    assert [len(page) for page in pages] == [2, 1, 0] and sorted(sum(pages, [])) == ["a", "b", "c"]


async def test_a_virtual_keys_custom_host_must_be_an_allowed_host(client):
    # The stored key is sent wherever its custom host points.
    body = {"name": "o", "provider": "openai", "key": PROVIDER_KEY, "custom_host": "http://169.254.169.254/latest"}
    response = await client.post("/v1/virtual-keys", json=body, headers=ADMIN)
    answer = await response.json()
    assert response.status == 400 and answer["error"]["param"] == "custom_host"
    assert "not in the gateway's allowed custom hosts" in answer["error"]["message"]
    assert (await (await client.get("/v1/virtual-keys", headers=ADMIN)).json())["total"] == 0


async def test_aws_credentials_in_a_config_are_masked_and_sealed(client, store_url):
    from tests.keys.test_store import raw_contents

    secrets = {"aws_secret_access_key": "aws-config-secret-0123456789", "aws_session_token": "aws-config-session-0123456789"}
    target = {"provider": "bedrock", "aws_access_key_id": "AKIA1", "aws_region": "us-east-1", **secrets}
    response = await client.post("/v1/configs", json={"name": "b", "config": target}, headers=ADMIN)
    assert response.status == 200, await response.text()
    slug = (await response.json())["slug"]
    text = await (await client.get(f"/v1/configs/{slug}", headers=ADMIN)).text()
    stored = await raw_contents(store_url)
    for secret in secrets.values():
        assert secret not in text and secret not in stored


async def test_a_put_with_an_empty_key_removes_the_stored_key(client):
    body = {"name": "o", "provider": "openai", "key": PROVIDER_KEY, "slug": "o"}
    assert (await client.post("/v1/virtual-keys", json=body, headers=ADMIN)).status == 200
    answer = await (await client.put("/v1/virtual-keys/o", json={"key": ""}, headers=ADMIN)).json()
    assert answer["masked_api_key"] is None
    assert (await (await client.get("/v1/virtual-keys/o", headers=ADMIN)).json())["masked_api_key"] is None
