from __future__ import annotations

import pytest

from gateway.settings import Settings, SettingsError, parse_settings


def test_defaults():
    settings = parse_settings([], {})
    assert (settings.host, settings.port, settings.workers) == ("127.0.0.1", 8787, 1)
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
    "argv, message",
    [
        (["--port", "http"], "--port: not a valid int"),
        (["--port", "70000"], "--port: must be 1-65535"),
        (["--workers", "0"], "--workers: must be at least 1"),
        (["--idle-timeout", "-1"], "--idle-timeout: must be positive"),
        (["--log-level", "loud"], "--log-level: unknown level"),
        (["--allowed-custom-hosts", "http://x"], "--allowed-custom-hosts"),
        (["--api-keys-file", "/nonexistent/keys"], "cannot read /nonexistent/keys"),
        (["--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_settings_are_one_line_errors(argv, message):
    with pytest.raises(SettingsError) as caught:
        parse_settings(argv, {})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
