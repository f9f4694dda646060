"""Vertex AI through a virtual key: the service account's key file kept in the store.

The admin API (the portkey-ai SDK, raw HTTP) and the CLI create the virtual key; a
request naming it reaches the fake Vertex with a bearer token the fake Google OAuth
endpoint minted after checking a JWT signed with that key file. The key never shows:
not in an admin answer, an error, a log line or the store file.
"""

from __future__ import annotations

import logging

import orjson
import portkey_ai
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.settings import Settings
from tests.keys.admin_setup import ADMIN, ADMIN_KEY, settled, store_settings
from tests.keys.test_cli_admin import gateway_cli
from tests.providers.vertex.conftest import EMAIL, KEY_ID, PROJECT, service_account_json

GEMINI = "gemini-2.5-flash"
CHAT = {"model": GEMINI, "messages": [{"role": "user", "content": "Hello there"}]}
OTHER_EMAIL = "rotated@fake-project-1.iam.gserviceaccount.com"
OTHER_KEY_ID = "fedcba9876543210"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return store_settings(tmp_path)


def marker(account: dict) -> str:
    """A line from the middle of the private key: what must never leave the gateway."""
    return account["private_key"].splitlines()[5]


def assert_hidden(secret: str, *texts: str | bytes) -> None:
    for text in texts:
        assert secret not in (text.decode(errors="replace") if isinstance(text, bytes) else text)


def log_text(caplog) -> str:
    return "\n".join(record.getMessage() + repr(getattr(record, "fields", "")) for record in caplog.records)


async def admin_post(client, path: str, body: dict, method: str = "POST"):
    response = await client.request(method, path, json=body, headers=ADMIN)
    return response.status, await response.json()


async def chat(client, headers: dict, body: dict = CHAT):
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    return response.status, await response.json()


def minted_for(oauth, fake_vertex) -> str:
    """The account whose key signed the JWT behind the token Vertex last received."""
    token = fake_vertex.last.headers["Authorization"].removeprefix("Bearer ")
    return oauth.issued[token][0]


async def test_a_vertex_virtual_key_signs_in_with_its_stored_key_file(
    gateway, client, view, fake_vertex, oauth, account, tokens, caplog, tmp_path
):
    caplog.set_level(logging.DEBUG)
    secret = marker(account)
    admin = portkey_ai.AsyncPortkey(api_key=ADMIN_KEY, base_url=str(gateway.make_url("/v1")), max_retries=0)
    try:
        created = await admin.virtual_keys.create(
            name="team vertex", provider="vertex-ai", slug="team-vertex",
            vertexServiceAccountJson=account, vertexRegion="europe-west4", custom_host=fake_vertex.url,
        )
    finally:
        await admin.close()
    assert created.slug == "team-vertex"
    await settled(view)

    status, answer = await chat(client, {"x-portkey-virtual-key": "team-vertex"})
    assert status == 200, answer
    assert answer["choices"][0]["message"]["content"] == "You said: Hello there"
    # The project came from the key file; the region from the virtual key.
    assert fake_vertex.last.path == (
        f"/v1/projects/{PROJECT}/locations/europe-west4/publishers/google/models/{GEMINI}:generateContent"
    )
    assert minted_for(oauth, fake_vertex) == EMAIL

    listed = await client.get("/v1/virtual-keys", headers=ADMIN)
    shown = await client.get("/v1/virtual-keys/team-vertex", headers=ADMIN)
    record = await shown.json()
    assert record["masked_api_key"] == f"{KEY_ID[:4]}****{KEY_ID[-4:]}"
    assert record["model_config"] == {"vertexRegion": "europe-west4"}
    store_file = b"".join(path.read_bytes() for path in (tmp_path / "state").iterdir())
    assert_hidden(secret, await listed.text(), await shown.text(), log_text(caplog), store_file)
    assert_hidden("PRIVATE KEY", await listed.text(), await shown.text(), log_text(caplog), store_file)


async def test_the_virtual_keys_project_wins_and_a_clients_headers_do_not_mix_in(
    client, view, fake_vertex, oauth, account, tokens, rsa_key
):
    body = {"name": "v", "provider": "vertex-ai", "slug": "v", "vertexServiceAccountJson": orjson.dumps(account).decode(),
            "vertexProjectId": "billing-project-2", "custom_host": fake_vertex.url}
    assert (await admin_post(client, "/v1/virtual-keys", body))[0] == 200
    await settled(view)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    oauth.register(OTHER_KEY_ID, OTHER_EMAIL, other.public_key())
    client_account = service_account_json(other, oauth.url, private_key_id=OTHER_KEY_ID, client_email=OTHER_EMAIL)
    headers = {"x-portkey-virtual-key": "v", "x-portkey-vertex-service-account-json": orjson.dumps(client_account).decode()}
    status, answer = await chat(client, headers)
    assert status == 200, answer
    assert fake_vertex.last.path.startswith("/v1/projects/billing-project-2/locations/us-central1/")
    assert minted_for(oauth, fake_vertex) == EMAIL  # the stored key, not the client's


async def test_rotating_the_key_file_takes_effect(client, view, fake_vertex, oauth, account, tokens, caplog):
    caplog.set_level(logging.DEBUG)
    body = {"name": "r", "provider": "vertex-ai", "slug": "r", "vertexServiceAccountJson": account,
            "custom_host": fake_vertex.url}
    assert (await admin_post(client, "/v1/virtual-keys", body))[0] == 200
    await settled(view)
    assert (await chat(client, {"x-portkey-virtual-key": "r"}))[0] == 200
    assert minted_for(oauth, fake_vertex) == EMAIL

    new_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    oauth.register(OTHER_KEY_ID, OTHER_EMAIL, new_key.public_key())
    rotated = service_account_json(new_key, oauth.url, private_key_id=OTHER_KEY_ID, client_email=OTHER_EMAIL)
    status, record = await admin_post(client, "/v1/virtual-keys/r", {"vertexServiceAccountJson": rotated}, "PUT")
    assert status == 200 and record["masked_api_key"] == f"{OTHER_KEY_ID[:4]}****{OTHER_KEY_ID[-4:]}"
    await settled(view)
    status, answer = await chat(client, {"x-portkey-virtual-key": "r"})
    assert status == 200, answer
    assert minted_for(oauth, fake_vertex) == OTHER_EMAIL
    assert_hidden(marker(rotated), orjson.dumps(record), log_text(caplog))
    assert_hidden(marker(account), log_text(caplog))


async def test_without_a_key_file_the_gateways_adc_is_used(
    client, view, fake_vertex, oauth, account, tokens, monkeypatch, tmp_path, rsa_key
):
    adc_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    oauth.register(OTHER_KEY_ID, OTHER_EMAIL, adc_key.public_key())
    adc_file = tmp_path / "adc.json"
    adc_file.write_bytes(orjson.dumps(
        service_account_json(adc_key, oauth.url, private_key_id=OTHER_KEY_ID, client_email=OTHER_EMAIL)
    ))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(adc_file))
    body = {"name": "adc", "provider": "vertex-ai", "slug": "adc", "vertexProjectId": "adc-project-1",
            "custom_host": fake_vertex.url}
    status, created = await admin_post(client, "/v1/virtual-keys", body)
    assert status == 200, created
    await settled(view)
    # A client's own key file beside the virtual key (in its config) is not used either.
    config = {"virtual_key": "adc", "vertex_service_account_json": account}
    status, answer = await chat(client, {"x-portkey-config": orjson.dumps(config).decode()})
    assert status == 200, answer
    assert fake_vertex.last.path.startswith("/v1/projects/adc-project-1/")
    assert minted_for(oauth, fake_vertex) == OTHER_EMAIL


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"provider": "openai", "key": "sk-0123456789abcdef", "vertexRegion": "us-east5"}, "vertexRegion",
         "only for provider vertex-ai"),
        ({"provider": "openai", "key": "sk-0123456789abcdef", "vertex_service_account_json": "ACCOUNT"},
         "vertexServiceAccountJson", "only for provider vertex-ai"),
        ({"provider": "vertex-ai", "vertexServiceAccountJson": "ACCOUNT", "key": "AIza-0123456789"}, "key",
         "vertex-ai signs in with a service account"),
        ({"provider": "vertex-ai", "vertexServiceAccountJson": "ACCOUNT", "awsRegion": "us-east-1"}, "awsRegion",
         "not a vertex-ai field"),
        ({"provider": "vertex-ai", "vertexServiceAccountJson": "ACCOUNT", "vertexRegion": "us-central1.evil.com"},
         "vertexRegion", "not a Vertex AI location"),
        ({"provider": "vertex-ai", "vertexProjectId": "../other"}, "vertexProjectId", "not a Google Cloud project id"),
        ({"provider": "vertex-ai", "vertexServiceAccountJson": "NOT JSON ACCOUNT"}, "vertexServiceAccountJson",
         "is not a JSON object"),
        ({"provider": "vertex-ai", "vertexServiceAccountJson": "AUTHORIZED_USER"}, "vertexServiceAccountJson",
         "is not a service-account key"),
        ({"provider": "vertex-ai", "vertex_service_account_json": "BROKEN_PEM"}, "vertex_service_account_json",
         "has a private_key that is not a readable PEM private key"),
        ({"provider": "vertex-ai", "vertexServiceAccountJson": 42}, "vertexServiceAccountJson",
         "must be the service account's JSON key file"),
    ],
)
async def test_wrong_fields_are_a_400_naming_the_field_never_the_key(client, account, caplog, body, field, problem):
    caplog.set_level(logging.DEBUG)
    pem = account["private_key"]
    # A broken key file still holds most of a private key: it must not be echoed either.
    broken = {**account, "private_key": pem.replace(marker(account), marker(account)[::-1])}
    stand_ins = {
        "ACCOUNT": account,
        "NOT JSON ACCOUNT": "not json: " + pem,
        "AUTHORIZED_USER": orjson.dumps({**account, "type": "authorized_user"}).decode(),
        "BROKEN_PEM": orjson.dumps(broken).decode(),
    }
    body = {key: stand_ins.get(value, value) if isinstance(value, str) else value for key, value in body.items()}
    status, error = await admin_post(client, "/v1/virtual-keys", {"name": "bad", **body})
    assert status == 400, error
    assert error["error"]["code"] == "invalid_field" and error["error"]["param"] == field
    assert f"{field}: {problem}" in error["error"]["message"]
    assert_hidden(marker(account), orjson.dumps(error), log_text(caplog))
    assert_hidden(marker(account)[::-1], orjson.dumps(error), log_text(caplog))
    assert_hidden("PRIVATE KEY", orjson.dumps(error))


async def test_a_stored_config_with_a_key_file_is_sealed_and_masked(client, account, tmp_path):
    config = {"provider": "vertex-ai", "vertex_project_id": PROJECT, "vertex_service_account_json": account}
    status, created = await admin_post(client, "/v1/configs", {"name": "vertex config", "config": config})
    assert status == 200, created
    shown = await client.get(f"/v1/configs/{created['slug']}", headers=ADMIN)
    body = await shown.json()
    assert body["config"]["vertex_service_account_json"] == "****"
    assert body["config"]["vertex_project_id"] == PROJECT
    store_file = b"".join(path.read_bytes() for path in (tmp_path / "state").iterdir())
    assert_hidden(marker(account), await shown.text(), store_file)


async def test_vertex_virtual_keys_from_the_command_line(tmp_path, account):
    master = tmp_path / "master.key"
    master.write_text("the first master key, at least thirty-two bytes long\n")
    env = {"GATEWAY_STATE_DIR": str(tmp_path / "state"), "GATEWAY_MASTER_KEY_FILE": str(master)}
    (tmp_path / "vk.json").write_bytes(orjson.dumps(
        {"name": "cli vertex", "slug": "cli-vertex", "provider": "vertex-ai", "vertexServiceAccountJson": account,
         "vertexRegion": "us-east5"}
    ))
    code, out, err = await gateway_cli("virtual-keys", "create", "--json", f"@{tmp_path / 'vk.json'}", env=env)
    assert code == 0, err
    code, out, err = await gateway_cli("virtual-keys", "show", "cli-vertex", env=env)
    shown = orjson.loads(out)
    assert code == 0 and shown["masked_api_key"] == f"{KEY_ID[:4]}****{KEY_ID[-4:]}"
    assert shown["model_config"] == {"vertexRegion": "us-east5"}
    bad = orjson.dumps({"vertexServiceAccountJson": {**account, "type": "authorized_user"}})
    code, out, err2 = await gateway_cli("virtual-keys", "update", "cli-vertex", "--json", "-", stdin=bad, env=env)
    assert code == 1 and "vertexServiceAccountJson: is not a service-account key" in err2
    assert_hidden(marker(account), out, err, err2)
