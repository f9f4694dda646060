"""Which counters the settings open, and where the embedded file lives by default."""

from __future__ import annotations

from pathlib import Path

from gateway.limits.embedded import EmbeddedCounters, default_limits_db
from gateway.limits.factory import open_counters
from gateway.limits.redis_backend import RedisCounters
from gateway.settings import parse_settings


async def test_redis_when_a_url_is_set_else_the_embedded_file(tmp_path):
    counters = open_counters(parse_settings(["--redis", "redis://127.0.0.1:1/0", "--limits-timeout", "0.2"], {}), {})
    assert isinstance(counters, RedisCounters) and counters.timeout == 0.2
    await counters.close()
    environ = {"STATE_DIRECTORY": str(tmp_path / "state")}
    counters = open_counters(parse_settings([], environ), environ)
    assert isinstance(counters, EmbeddedCounters) and counters.path == tmp_path / "state" / "limits.sqlite3"
    assert counters.rate_limits_fail_open and not counters.budgets_fail_open
    await counters.close()
    counters = open_counters(parse_settings(["--limits-db", str(tmp_path / "x.db")], {}), {})
    assert counters.path == tmp_path / "x.db"
    await counters.close()


def test_default_file_follows_systemd_then_xdg():
    assert default_limits_db({"STATE_DIRECTORY": "/var/lib/ai-gateway:/var/lib/other"}) == Path("/var/lib/ai-gateway/limits.sqlite3")
    assert default_limits_db({"XDG_STATE_HOME": "/x"}) == Path("/x/ai-gateway/limits.sqlite3")
    assert default_limits_db({}) == Path.home() / ".local/state/ai-gateway/limits.sqlite3"
