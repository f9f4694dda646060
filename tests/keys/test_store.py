"""The store on SQLite and PostgreSQL: records, secrets at rest, migrations, the view."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import socket
import sqlite3
import stat

import asyncpg
import pytest

from gateway.store import (
    REFRESH_BOUND_S,
    ApiKey,
    Conflict,
    LiveView,
    MasterKeyError,
    ProviderCredentials,
    StoredConfig,
    StoreError,
    VirtualKey,
    hash_api_key,
    new_api_key,
    open_store,
)
from gateway.store.location import is_postgres
from gateway.store.postgres import PostgresStore
from tests.keys.conftest import MASTER, OTHER_MASTER

SECRET = "sk-provider-secret-0123456789abcdef"
AWS_SECRET = "aws-secret-access-key-0123456789"


def openai_vk(slug: str = "openai-main", key: str = SECRET) -> VirtualKey:
    return VirtualKey(
        id=f"id-{slug}",
        slug=slug,
        name=slug,
        provider="openai",
        credentials=ProviderCredentials(api_key=key),
        rate_limits=({"type": "requests", "unit": "rpm", "value": 10},),
        usage_limits={"credit_limit": 5, "periodic_reset": "monthly", "alert_threshold": 4},
        created_at="2026-01-01T00:00:00Z",
        last_updated_at="2026-01-01T00:00:00Z",
    )


def bedrock_vk() -> VirtualKey:
    return VirtualKey(
        id="id-bedrock",
        slug="bedrock",
        name="bedrock",
        provider="bedrock",
        credentials=ProviderCredentials(aws_secret_access_key=AWS_SECRET, aws_session_token="session-token-xyz-123"),
        model_config={"awsRegion": "eu-west-1", "awsAccessKeyId": "AKIAEXAMPLE"},
        created_at="2026-01-01T00:00:01Z",
        last_updated_at="2026-01-01T00:00:01Z",
    )


async def raw_contents(store_url: str) -> str:
    """Everything the database holds, as text (what an attacker with the file would see)."""
    if is_postgres(store_url):
        conn = await asyncpg.connect(store_url)
        try:
            rows = []
            for table in ("virtual_keys", "api_keys", "configs"):
                rows += [str(tuple(r)) for r in await conn.fetch(f"SELECT * FROM {table}")]
            return "\n".join(rows)
        finally:
            await conn.close()
    db = sqlite3.connect(store_url)
    try:
        return "\n".join(str(row) for table in ("virtual_keys", "api_keys", "configs") for row in db.execute(f"SELECT * FROM {table}"))
    finally:
        db.close()


async def test_virtual_keys_round_trip_with_limits_kept_verbatim(store):
    await store.create_virtual_key(openai_vk())
    await store.create_virtual_key(bedrock_vk())
    got = await store.get_virtual_key("openai-main")
    assert got == openai_vk()
    assert got.credentials.api_key == SECRET
    assert got.rate_limits == ({"type": "requests", "unit": "rpm", "value": 10},)
    assert got.usage_limits == {"credit_limit": 5, "periodic_reset": "monthly", "alert_threshold": 4}
    bedrock = await store.get_virtual_key("bedrock")
    assert bedrock.credentials.aws_secret_access_key == AWS_SECRET
    assert bedrock.credentials.aws_session_token == "session-token-xyz-123"
    assert dict(bedrock.model_config) == {"awsRegion": "eu-west-1", "awsAccessKeyId": "AKIAEXAMPLE"}
    assert [vk.slug for vk in await store.list_virtual_keys()] == ["openai-main", "bedrock"]
    assert SECRET not in repr(got) and SECRET not in str(got.public())
    assert got.public()["masked_api_key"] == "sk-p****cdef"


async def test_a_duplicate_slug_is_a_conflict(store):
    await store.create_virtual_key(openai_vk())
    with pytest.raises(Conflict):
        await store.create_virtual_key(openai_vk().__class__(**{**openai_vk().__dict__, "id": "other-id"}))
    assert len(await store.list_virtual_keys()) == 1


async def test_update_and_delete(store):
    await store.create_virtual_key(openai_vk())
    changed = VirtualKey(**{**openai_vk().__dict__, "note": "rotated", "credentials": ProviderCredentials(api_key="sk-new-key-abcdefghijkl")})
    assert await store.update_virtual_key(changed)
    got = await store.get_virtual_key("openai-main")
    assert got.note == "rotated" and got.credentials.api_key == "sk-new-key-abcdefghijkl"
    assert await store.delete_virtual_key("openai-main")
    assert not await store.delete_virtual_key("openai-main")
    assert await store.get_virtual_key("openai-main") is None
    assert not await store.update_virtual_key(changed)  # deleted meanwhile: nothing updated


async def test_api_keys_are_stored_only_as_a_hash(store, store_url):
    key = new_api_key()
    record = ApiKey(
        id="key-1", key_hash=hash_api_key(key), name="svc", scopes=("completions.write",),
        defaults={"metadata": {"team": "a"}, "config_id": "pc-x"},
        rate_limits=({"type": "tokens", "unit": "rph", "value": 1000},), expires_at="2030-01-01T00:00:00Z",
        created_at="2026-01-01T00:00:00Z", last_updated_at="2026-01-01T00:00:00Z",
    )
    await store.create_api_key(record)
    assert await store.get_api_key("key-1") == record
    assert key not in await raw_contents(store_url)
    # SHA-256, as documented: another hash would lock out every key already stored.
    assert hashlib.sha256(key.encode()).hexdigest() in await raw_contents(store_url)
    view = await store.snapshot()
    assert view.api_key(key) == record
    assert view.api_key(key + "x") is None


async def test_configs_by_slug_or_id_and_sealed_when_they_hold_keys(store, store_url):
    plain = StoredConfig(id="c1", slug="pc-plain-123456", name="plain", config={"retry": {"attempts": 2}}, created_at="1", last_updated_at="1")
    keyed = StoredConfig(id="c2", slug="pc-keyed-abcdef", name="keyed", config={"provider": "openai", "api_key": SECRET}, created_at="2", last_updated_at="2")
    await store.create_config(plain)
    await store.create_config(keyed)
    assert await store.get_config("pc-plain-123456") == plain
    assert await store.get_config("c2") == keyed
    assert keyed.public()["config"]["api_key"] == "sk-p****cdef"
    contents = await raw_contents(store_url)
    assert SECRET not in contents and '"attempts":2' in contents
    view = await store.snapshot()
    assert view.config("pc-keyed-abcdef") == keyed and view.config("c1") == plain
    assert await store.delete_config("c1") and await store.delete_config("pc-keyed-abcdef")
    assert await store.list_configs() == []


async def test_secrets_at_rest_are_sealed_under_the_master_key(store, store_url):
    await store.create_virtual_key(openai_vk())
    await store.create_virtual_key(bedrock_vk())
    contents = await raw_contents(store_url)
    for secret in (SECRET, AWS_SECRET, "session-token-xyz-123"):
        assert secret not in contents
    assert f"v1.{MASTER.key_id}." in contents
    assert await store.sealed_key_ids() == {MASTER.key_id}


async def test_a_missing_or_wrong_master_key_is_detected(store, make_store):
    await store.create_virtual_key(openai_vk())
    await store.check_master_key()  # the right key
    without = await make_store(None)
    with pytest.raises(MasterKeyError, match="holds encrypted credentials"):
        await without.check_master_key()
    wrong = await make_store(OTHER_MASTER)
    with pytest.raises(MasterKeyError, match=f"not the one .* encrypted with \\(id {MASTER.key_id}\\)"):
        await wrong.check_master_key()
    with pytest.raises(MasterKeyError):
        await wrong.get_virtual_key("openai-main")


async def test_no_sealed_entries_need_no_master_key(make_store):
    store = await make_store(None)
    await store.check_master_key()
    await store.create_config(StoredConfig(id="c", slug="pc-c", name="c", config={"retry": {"attempts": 1}}))
    with pytest.raises(MasterKeyError, match="give the master key"):
        await store.create_virtual_key(openai_vk())


async def test_rotate_master_key_re_encrypts_everything(store, make_store, store_url):
    await store.create_virtual_key(openai_vk())
    await store.create_virtual_key(bedrock_vk())
    await store.create_config(StoredConfig(id="c2", slug="pc-k", name="k", config={"targets": [{"provider": "openai", "api_key": SECRET}], "strategy": {"mode": "single"}}))
    await store.create_config(StoredConfig(id="c3", slug="pc-plain", name="plain", config={"targets": [{"provider": "openai"}], "strategy": {"mode": "single"}}))
    assert await store.rotate_master_key(OTHER_MASTER) == 3  # the config without a key has nothing sealed
    assert await store.sealed_key_ids() == {OTHER_MASTER.key_id}
    assert SECRET not in await raw_contents(store_url)
    rotated = await make_store(OTHER_MASTER)
    await rotated.check_master_key()
    assert (await rotated.get_virtual_key("openai-main")).credentials.api_key == SECRET
    assert (await rotated.get_config("pc-k")).config["targets"][0]["api_key"] == SECRET
    assert (await rotated.get_config("pc-plain")).config["targets"] == [{"provider": "openai"}]
    old = await make_store(MASTER)
    with pytest.raises(MasterKeyError):
        await old.check_master_key()


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)  # the binding is the codec's, shared
async def test_a_sealed_value_moved_to_another_row_does_not_open(store, store_url):
    await store.create_virtual_key(openai_vk("a", "sk-aaaaaaaaaaaaaaaaaaaa"))
    await store.create_virtual_key(openai_vk("b", "sk-bbbbbbbbbbbbbbbbbbbb"))
    db = sqlite3.connect(store_url, isolation_level=None)
    db.execute("UPDATE virtual_keys SET sealed = (SELECT sealed FROM virtual_keys WHERE slug = 'a') WHERE slug = 'b'")
    db.close()
    with pytest.raises(MasterKeyError, match="does not verify"):
        await store.get_virtual_key("b")


async def test_migrations_are_recorded_once_and_idempotent(store, make_store):
    await make_store()
    await make_store()
    assert await store.schema_versions() == [1]


async def test_sqlite_file_is_private_and_in_wal_mode(tmp_path):
    path = tmp_path / "state" / "gateway.db"
    store = open_store(str(path), MASTER)
    await store.start()
    await store.create_virtual_key(openai_vk())
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
        assert stat.S_IMODE(os.stat(f"{path}-wal").st_mode) == 0o600
        db = sqlite3.connect(path)
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        db.close()
    finally:
        await store.close()


async def test_the_view_of_another_connection_follows_writes(store, make_store):
    reader = await make_store()
    view = LiveView(reader)
    await view.start()
    try:
        assert view.current.virtual_keys == {}
        await store.create_virtual_key(openai_vk())
        await view.wait_until(lambda v: "openai-main" in v.current.virtual_keys, timeout=REFRESH_BOUND_S * 3)
        old = view.current
        await store.delete_virtual_key("openai-main")
        await view.wait_until(lambda v: "openai-main" not in v.current.virtual_keys, timeout=REFRESH_BOUND_S * 3)
        assert "openai-main" in old.virtual_keys  # a snapshot never changes under a reader
    finally:
        await view.stop()


async def test_each_seal_has_its_own_nonce(store, store_url):
    # AES-GCM under one key with a repeated nonce gives away the XOR of the two secrets.
    await store.create_virtual_key(openai_vk("a"))
    await store.create_virtual_key(openai_vk("b"))  # the same provider key
    sealed = re.findall(rf"v1\.{MASTER.key_id}\.([A-Za-z0-9_=-]+)", await raw_contents(store_url))
    first, second = (base64.urlsafe_b64decode(value) for value in sealed)
    assert first[:12] != second[:12] and first[12:] != second[12:]


async def test_a_postgres_password_never_appears_in_the_location_or_an_error():
    with socket.socket() as sock:  # a port nothing listens on once it is closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = PostgresStore(f"postgresql://gateway:pg-secret-pass@127.0.0.1:{port}/gateway")
    assert "pg-secret-pass" not in store.location and "***" in store.location
    with pytest.raises(StoreError) as failed:
        await store.start()
    assert "pg-secret-pass" not in str(failed.value) and store.location in str(failed.value)
