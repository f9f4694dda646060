"""``gateway keys|virtual-keys|configs|rotate-master-key`` as real processes, and the
start-up refusal when the master key is missing or wrong."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys

import orjson
import pytest

from tests.test_cli import start_gateway

PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"


async def gateway_cli(*args: str, stdin: bytes = b"", env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    out, err = await asyncio.wait_for(process.communicate(stdin), timeout=60)
    return process.returncode, out.decode(), err.decode()


@pytest.fixture
def keys(tmp_path):
    master = tmp_path / "master.key"
    master.write_text("the first master key, at least thirty-two bytes long\n")
    new = tmp_path / "new-master.key"
    new.write_text("the second master key, also thirty-two bytes or more\n")
    return master, new


@pytest.fixture
def env(tmp_path, keys) -> dict[str, str]:
    return {"GATEWAY_STATE_DIR": str(tmp_path / "state"), "GATEWAY_MASTER_KEY_FILE": str(keys[0])}


async def test_virtual_keys_from_the_command_line(tmp_path, env):
    body = orjson.dumps({"name": "team openai", "provider": "openai", "key": PROVIDER_KEY, "slug": "team"})
    code, out, err = await gateway_cli("virtual-keys", "create", "--json", "-", stdin=body, env=env)
    assert code == 0, err
    assert orjson.loads(out)["slug"] == "team"
    db = tmp_path / "state" / "gateway.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    code, out, _ = await gateway_cli("virtual-keys", "list", env=env)
    listed = orjson.loads(out)
    assert code == 0 and [vk["slug"] for vk in listed] == ["team"] and listed[0]["masked_api_key"] == "sk-p****cdef"
    code, out, _ = await gateway_cli("virtual-keys", "update", "team", "--json", '{"note": "n"}', env=env)
    assert code == 0 and orjson.loads(out)["note"] == "n"
    code, out, err = await gateway_cli("virtual-keys", "create", "--json", "-", stdin=body, env=env)
    assert code == 1 and err == "gateway: an object with this slug already exists\n"
    code, out, _ = await gateway_cli("virtual-keys", "delete", "team", env=env)
    assert code == 0 and orjson.loads(out) == {}
    code, _, err = await gateway_cli("virtual-keys", "show", "team", env=env)
    assert code == 1 and err == "gateway: no virtual key 'team'\n"
    assert PROVIDER_KEY.encode() not in db.read_bytes()


async def test_api_keys_and_configs_from_the_command_line(env, postgres_url):
    env = {**env, "GATEWAY_STORE": postgres_url}
    code, out, err = await gateway_cli("configs", "create", "--json", '{"name": "r", "config": {"retry": {"attempts": 2}}}', env=env)
    assert code == 0, err
    slug = orjson.loads(out)["slug"]
    code, out, err = await gateway_cli("keys", "create", "--name", "svc", "--json", f'{{"defaults": {{"config_id": "{slug}"}}}}', env=env)
    assert code == 0, err
    created = orjson.loads(out)
    assert created["key"].startswith("pk-")
    code, out, _ = await gateway_cli("keys", "list", env=env)
    assert created["key"] not in out and orjson.loads(out)[0]["defaults"] == {"config_id": slug}
    code, _, err = await gateway_cli("configs", "create", "--json", '{"name": "b", "config": {"strategy": {"mode": "up"}, "targets": [{"provider": "openai"}]}}', env=env)
    assert code == 1
    assert err == "gateway: config.strategy.mode: must be one of single, fallback, loadbalance, conditional\n"


async def test_the_gateway_refuses_to_start_without_the_right_master_key(tmp_path, env, keys, unused_tcp_port):
    body = orjson.dumps({"name": "o", "provider": "openai", "key": PROVIDER_KEY})
    assert (await gateway_cli("virtual-keys", "create", "--json", "-", stdin=body, env=env))[0] == 0
    state = ["--state-dir", str(tmp_path / "state")]
    code, _, err = await gateway_cli("--port", str(unused_tcp_port), *state, env={"GATEWAY_MASTER_KEY_FILE": ""})
    assert code == 2
    assert err.startswith("gateway: the store at ") and "holds encrypted credentials" in err and err.count("\n") == 1
    code, _, err = await gateway_cli("--port", str(unused_tcp_port), *state, "--master-key-file", str(keys[1]))
    assert code == 2 and "is not the one the store at" in err and err.count("\n") == 1
    process = await start_gateway(unused_tcp_port, *state, "--master-key-file", str(keys[0]))
    process.send_signal(signal.SIGTERM)
    await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0


async def test_rotate_master_key(env, keys):
    body = orjson.dumps({"name": "o", "provider": "openai", "key": PROVIDER_KEY, "slug": "o"})
    assert (await gateway_cli("virtual-keys", "create", "--json", "-", stdin=body, env=env))[0] == 0
    code, out, err = await gateway_cli("rotate-master-key", "--new-master-key-file", str(keys[1]), env=env)
    assert code == 0, err
    assert orjson.loads(out)["resealed"] == 1
    code, _, err = await gateway_cli("virtual-keys", "show", "o", env=env)
    assert code == 1 and "sealed under master key" in err
    code, out, _ = await gateway_cli("virtual-keys", "show", "o", env={**env, "GATEWAY_MASTER_KEY_FILE": str(keys[1])})
    assert code == 0 and orjson.loads(out)["masked_api_key"] == "sk-p****cdef"


async def test_a_running_gateway_sees_command_line_changes_within_the_bound(tmp_path, env, keys, aiohttp_client):
    from gateway.app import create_app
    from gateway.settings import Settings
    from gateway.store import REFRESH_BOUND_S
    from gateway.store.runtime import STORE_RUNTIME

    client = await aiohttp_client(create_app(Settings(state_dir=str(tmp_path / "state"), master_key_file=str(keys[0]))))
    view = client.app[STORE_RUNTIME].view
    code, out, err = await gateway_cli("keys", "create", "--name", "svc", env=env)
    assert code == 0, err
    key = orjson.loads(out)["key"]
    await view.wait_until(lambda v: v.current.api_key(key) is not None, timeout=REFRESH_BOUND_S * 3)
    key_id = orjson.loads(out)["id"]
    assert (await gateway_cli("keys", "delete", key_id, env=env))[0] == 0
    await view.wait_until(lambda v: v.current.api_key(key) is None, timeout=REFRESH_BOUND_S * 3)


async def test_a_master_key_under_32_bytes_is_refused(tmp_path, env, unused_tcp_port):
    short = tmp_path / "short.key"
    short.write_text("only-twenty-bytes-01\n")  # too little randomness to derive an AES-256 key from
    code, _, err = await gateway_cli("virtual-keys", "list", env={**env, "GATEWAY_MASTER_KEY_FILE": str(short)})
    assert code == 1 and "the master key must hold at least 32 bytes" in err
    code, _, err = await gateway_cli("--port", str(unused_tcp_port), "--master-key-file", str(short), env=env)
    assert code == 2 and "the master key must hold at least 32 bytes" in err and err.count("\n") == 1


async def test_a_json_body_that_is_not_an_object_is_refused(env):
    code, out, err = await gateway_cli("configs", "create", "--json", "[1]", env=env)
    assert (code, out, err) == (1, "", "gateway: --json: must be a JSON object\n")


async def test_a_bad_option_is_a_usage_error_exit_2(env):
    code, out, err = await gateway_cli("configs", "list", "--no-such-option", env=env)
    assert (code, out) == (2, "") and err.startswith("gateway: ") and "--no-such-option" in err
