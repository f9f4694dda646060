from __future__ import annotations

import asyncio
import os
import sys

import pytest

from gateway import __version__
from gateway.settings import _OPTIONS, Settings, SettingsError, parse_settings, size


def test_defaults():
    settings = parse_settings([], {})
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8787, 1)
    assert settings.max_header_size == 64 * 1024
    assert settings.allowed_custom_hosts.allows("127.0.0.1")
    assert not settings.allowed_custom_hosts.allows("10.0.0.1")


def test_environment_then_command_line():
    settings = parse_settings(["--port", "9000"], {"GATEWAY_PORT": "9100", "GATEWAY_WORKERS": "3", "GATEWAY_IDLE_TIMEOUT": "2.5"})
    assert settings == Settings(port=9000, workers=3, idle_timeout=2.5)


def test_api_keys_file(tmp_path):
    keys = tmp_path / "keys"
    keys.write_text("# team keys\nkey-one\n\nkey-two\n")
    assert parse_settings(["--api-keys-file", str(keys)], {}).api_keys == {"key-one", "key-two"}


@pytest.mark.parametrize(
    "text, expected",
    [("1048576", 1048576), ("1MiB", 1024**2), ("64KiB", 65536), ("64kib", 65536), ("500kB", 500_000), ("2 MB", 2_000_000), ("1GiB", 1024**3), ("7B", 7)],
)
def test_sizes_take_units(text, expected):
    assert size(text) == expected
    assert parse_settings(["--max-body-size", text], {}).max_body_size == expected
    if expected >= 1024:
        assert parse_settings([], {"GATEWAY_MAX_HEADER_SIZE": text}).max_header_size == expected


def test_host_list_accepts_every_kind_of_pattern():
    text = " localhost, 127.0.0.0/8 ,::1,*.models.internal,10.20.0.0/16,vllm_1,Ollama.Local,fd00::/8,192.168.1.7"
    hosts = parse_settings(["--allowed-custom-hosts", text], {}).allowed_custom_hosts
    assert all(hosts.allows(host) for host in ("a.models.internal", "10.20.3.4", "vllm_1", "ollama.local", "fd00::1", "192.168.1.7"))
    assert not hosts.allows("10.21.0.1")
    assert parse_settings([], {"GATEWAY_ALLOWED_CUSTOM_HOSTS": ""}).allowed_custom_hosts.patterns == ()


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--port", "http"], "--port: not a valid integer: 'http'"),
        (["--port", "70000"], "--port: must be 1-65535, got 70000"),
        (["--port", "65536"], "--port: must be 1-65535, got 65536"),
        (["--workers", "0"], "--workers: must be at least 1, got 0"),
        (["--idle-timeout", "-1"], "--idle-timeout: must be positive"),
        (["--connect-timeout", "soon"], "--connect-timeout: not a number of seconds: 'soon'"),
        (["--request-timeout", "nan"], "--request-timeout: not a number of seconds"),
        (["--shutdown-timeout", "-1"], "--shutdown-timeout: must not be negative"),
        (["--max-connections", "-1"], "--max-connections: must not be negative"),
        (["--max-body-size", "1.5MiB"], "--max-body-size: not a size"),
        (["--max-body-size", "10XB"], "--max-body-size: not a size"),
        (["--max-body-size", "-1"], "--max-body-size: not a size"),
        (["--max-header-size", "0KiB"], "--max-header-size: must be at least 1 byte"),
        # "64" meant as KiB: every request, /health included, would be a 431.
        (["--max-header-size", "64"], "--max-header-size: must be at least 1KiB"),
        (["--max-header-size", "1023B"], "--max-header-size: must be at least 1KiB"),
        (["--log-level", "loud"], "--log-level: unknown level 'loud'"),
        (["--allowed-custom-hosts", "http://x"], "--allowed-custom-hosts: not a host name"),
        (["--allowed-custom-hosts", "localhost,,10.0.0.0/8"], "--allowed-custom-hosts: empty item"),
        (["--allowed-custom-hosts", "localhost,"], "--allowed-custom-hosts: empty item"),
        (["--allowed-custom-hosts", "10.0.0.0/33"], "--allowed-custom-hosts: not a CIDR network: '10.0.0.0/33'"),
        (["--allowed-custom-hosts", "10.0.0.300"], "--allowed-custom-hosts: not a host name"),
        (["--allowed-custom-hosts", "bad host"], "--allowed-custom-hosts: not a host name"),
        (["--allowed-custom-hosts", "*.-bad.example"], "--allowed-custom-hosts: not a host name"),
        (["--api-keys-file", "/nonexistent/keys"], "--api-keys-file: cannot read /nonexistent/keys"),
        (["--bogus"], "unrecognized arguments"),
        (["--max-body"], "unrecognized arguments"),  # no abbreviations: a typo is not another flag
    ],
)
def test_bad_flags_are_one_line_errors_naming_the_flag(argv, message):
    with pytest.raises(SettingsError) as caught:
        parse_settings(argv, {})
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "environ, message",
    [
        ({"GATEWAY_PORT": "x"}, "GATEWAY_PORT: not a valid integer: 'x'"),
        ({"GATEWAY_PORT": "0"}, "GATEWAY_PORT: must be 1-65535, got 0"),
        ({"GATEWAY_WORKERS": "0"}, "GATEWAY_WORKERS: must be at least 1, got 0"),
        ({"GATEWAY_MAX_HEADER_SIZE": "64 KB!"}, "GATEWAY_MAX_HEADER_SIZE: not a size"),
        ({"GATEWAY_ALLOWED_CUSTOM_HOSTS": "a,,b"}, "GATEWAY_ALLOWED_CUSTOM_HOSTS: empty item"),
        ({"GATEWAY_LOG_LEVEL": "loud"}, "GATEWAY_LOG_LEVEL: unknown level"),
    ],
)
def test_bad_environment_values_name_the_variable(environ, message):
    with pytest.raises(SettingsError) as caught:
        parse_settings([], environ)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_a_good_flag_overrides_a_bad_variable():
    assert parse_settings(["--port", "9000"], {"GATEWAY_PORT": "x"}).port == 9000


def test_help_shows_every_default_and_variable(capsys):
    with pytest.raises(SystemExit) as caught:
        parse_settings(["--help"], {})
    assert caught.value.code == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps lines
    for flag, env, default in [
        ("--port", "GATEWAY_PORT", "8787"),
        ("--max-body-size", "GATEWAY_MAX_BODY_SIZE", "64MiB"),
        ("--max-header-size", "GATEWAY_MAX_HEADER_SIZE", "64KiB"),
        ("--connect-timeout", "GATEWAY_CONNECT_TIMEOUT", "10"),
        ("--allowed-custom-hosts", "GATEWAY_ALLOWED_CUSTOM_HOSTS", "localhost,127.0.0.0/8,::1"),
        ("--api-keys-file", "GATEWAY_API_KEYS_FILE", "none"),
        ("--max-connections", "GATEWAY_MAX_CONNECTIONS", "1000"),
    ]:
        assert flag in text and f"(default: {default}; env {env})" in text
    assert text.count("env GATEWAY_") == len(_OPTIONS)  # every option
    # An option whose help says its default itself does not also say "default: none".
    assert "(default: a file in the state dir; env GATEWAY_STORE)" in text
    assert "(default: $STATE_DIRECTORY/limits.sqlite3; env GATEWAY_LIMITS_DB)" in text
    assert text.count("(default:") == len(_OPTIONS)


async def run_gateway(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", *args, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode, stdout.decode(), stderr.decode()


async def test_version_prints_and_exits_0():
    assert await run_gateway("--version") == (0, f"gateway {__version__}\n", "")


async def test_a_bad_variable_exits_2_with_one_line_naming_it():
    code, _, stderr = await run_gateway(env={**os.environ, "GATEWAY_MAX_BODY_SIZE": "lots"})
    assert code == 2
    assert stderr == "gateway: GATEWAY_MAX_BODY_SIZE: not a size (bytes, or a whole number with kB, KiB, MB, MiB, GB or GiB): 'lots'\n"


def test_rows_with_plain_types_still_parse(monkeypatch):
    """Other modules may add (name, int|float|str, help) rows, as the table had before."""
    from gateway import settings as module

    plain = {"workers": int, "idle_timeout": float}
    monkeypatch.setattr(module, "_OPTIONS", tuple((name, plain.get(name, kind), text) for name, kind, text in module._OPTIONS))
    assert parse_settings([], {"GATEWAY_WORKERS": "4", "GATEWAY_IDLE_TIMEOUT": "0.5"}) == Settings(workers=4, idle_timeout=0.5)
    with pytest.raises(SettingsError, match="^GATEWAY_IDLE_TIMEOUT: not a number of seconds: 'x'$"):
        parse_settings([], {"GATEWAY_IDLE_TIMEOUT": "x"})


def test_cache_sizes():
    assert (Settings().route_cache_size, Settings().custom_host_cache_size) == (512, 256)
    settings = parse_settings(["--route-cache-size", "0"], {"GATEWAY_CUSTOM_HOST_CACHE_SIZE": "16"})
    assert (settings.route_cache_size, settings.custom_host_cache_size) == (0, 16)
    with pytest.raises(SettingsError, match="--route-cache-size: must not be negative"):
        parse_settings(["--route-cache-size", "-1"], {})
