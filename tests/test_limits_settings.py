"""The limits' settings: --redis / GATEWAY_REDIS_URL, on-failure policies, pricing file."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, parse_settings


def test_redis_from_the_command_line_or_the_environment():
    assert parse_settings(["--redis", "redis://127.0.0.1:6379/0"], {}).redis_url == "redis://127.0.0.1:6379/0"
    assert parse_settings([], {"GATEWAY_REDIS_URL": "redis://cache:6379"}).redis_url == "redis://cache:6379"
    assert parse_settings(["--redis-url", "redis://a"], {"GATEWAY_REDIS_URL": "redis://b"}).redis_url == "redis://a"
    assert parse_settings([], {}).redis_url is None


def test_defaults_fail_rate_limits_open_and_budgets_closed():
    settings = parse_settings([], {})
    assert (settings.rate_limits_on_failure, settings.budgets_on_failure) == ("open", "closed")
    assert parse_settings(["--rate-limits-on-failure", "closed"], {}).rate_limits_on_failure == "closed"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--redis", "http://cache:6379"], "--redis-url: must start with redis://"),
        (["--budgets-on-failure", "maybe"], "--budgets-on-failure: must be open or closed"),
        (["--limits-timeout", "0"], "--limits-timeout: must be positive"),
    ],
)
def test_bad_values_are_refused_naming_the_option(argv, message):
    with pytest.raises(SettingsError, match=message):
        parse_settings(argv, {})
