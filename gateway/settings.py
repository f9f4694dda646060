"""Settings from the command line and the environment, validated once at start.

Every option has an environment variable (``GATEWAY_<NAME>``); the command line wins.
A bad value is a :class:`SettingsError` whose message is one line for the operator.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .custom_host import DEFAULT_ALLOWED_HOSTS, HostAllowList


class SettingsError(Exception):
    """A setting that cannot be used; the message names it and says why."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8787
    workers: int = 1
    # Seconds to open a TCP/TLS connection to an upstream.
    connect_timeout: float = 10.0
    # Seconds from sending a request until the upstream's first body byte, when the
    # request sets no request_timeout of its own.
    request_timeout: float = 600.0
    # Seconds an upstream may stay silent between two chunks once it has started.
    idle_timeout: float = 300.0
    max_body_size: int = 64 * 1024 * 1024
    # Seconds in-flight requests get to finish after SIGTERM.
    shutdown_timeout: float = 30.0
    log_level: str = "info"
    allowed_custom_hosts: HostAllowList = field(default_factory=HostAllowList)
    # Keys clients must present in x-portkey-api-key; empty means no gateway auth.
    api_keys: frozenset[str] = frozenset()
    # Upstream connection pool size (0 = unlimited).
    max_connections: int = 1000
    # Rate limits and budgets (gateway/limits/): Redis URL shared by a fleet, or None for the
    # embedded counters (SQLite in limits_db, shared by the workers of one machine).
    redis_url: str | None = None
    limits_db: str | None = None
    pricing_file: str | None = None
    # When the counters cannot be reached: "open" lets requests through, "closed" refuses.
    rate_limits_on_failure: str = "open"
    budgets_on_failure: str = "closed"
    # Seconds a counter call may take before the on-failure policy applies.
    limits_timeout: float = 0.5


_OPTIONS = (
    # (name, type, help)
    ("host", str, "address to listen on"),
    ("port", int, "port to listen on"),
    ("workers", int, "worker processes sharing the port (SO_REUSEPORT)"),
    ("connect_timeout", float, "seconds to connect to an upstream"),
    ("request_timeout", float, "default seconds until an upstream's first byte"),
    ("idle_timeout", float, "seconds an upstream may be silent between chunks"),
    ("max_body_size", int, "largest request body in bytes"),
    ("shutdown_timeout", float, "seconds in-flight requests get after SIGTERM"),
    ("log_level", str, "debug, info, warning or error"),
    ("allowed_custom_hosts", str, "comma-separated hosts, *.domains, IPs/CIDRs, or *"),
    ("api_keys_file", str, "file of client keys (one a line) required in x-portkey-api-key"),
    ("max_connections", int, "upstream connection pool size (0 = unlimited)"),
    ("redis_url", str, "redis://... for rate-limit and budget counters shared by a fleet (also --redis)"),
    ("limits_db", str, "SQLite file of the embedded counters (default: $STATE_DIRECTORY/limits.sqlite3)"),
    ("pricing_file", str, "JSON prices replacing or extending the shipped table"),
    ("rate_limits_on_failure", str, "open or closed: rate limits when the counters are unreachable"),
    ("budgets_on_failure", str, "open or closed: budgets when the counters are unreachable"),
    ("limits_timeout", float, "seconds a counter call may take before the on-failure policy applies"),
)


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    parser = _ArgumentParser(prog="gateway", description="OpenAI-compatible AI gateway")
    for name, _kind, help_text in _OPTIONS:
        env = "GATEWAY_" + name.upper()
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, default=environ.get(env), help=f"{help_text} [{env}]"
        )
    parser.add_argument("--redis", dest="redis_url", default=argparse.SUPPRESS, help="same as --redis-url")
    args = parser.parse_args(list(argv))
    raw = {name: getattr(args, name) for name, _, _ in _OPTIONS if getattr(args, name) is not None}
    kinds = {name: kind for name, kind, _ in _OPTIONS}
    values: dict = {}
    for name, text in raw.items():
        if name in ("allowed_custom_hosts", "api_keys_file"):
            continue
        try:
            values[name] = kinds[name](text)
        except ValueError:
            raise SettingsError(f"--{name.replace('_', '-')}: not a valid {kinds[name].__name__}: {text!r}") from None
    if "allowed_custom_hosts" in raw:
        try:
            values["allowed_custom_hosts"] = HostAllowList.parse(raw["allowed_custom_hosts"])
        except ValueError as exc:
            raise SettingsError(f"--allowed-custom-hosts: {exc}") from None
    if "api_keys_file" in raw:
        values["api_keys"] = _read_api_keys(Path(raw["api_keys_file"]))
    settings = Settings(**values)
    validate(settings)
    return settings


def validate(settings: Settings) -> None:
    if not 0 < settings.port < 65536:
        raise SettingsError(f"--port: must be 1-65535, got {settings.port}")
    if settings.workers < 1:
        raise SettingsError(f"--workers: must be at least 1, got {settings.workers}")
    for name in ("connect_timeout", "request_timeout", "idle_timeout"):
        if getattr(settings, name) <= 0:
            raise SettingsError(f"--{name.replace('_', '-')}: must be positive")
    if settings.shutdown_timeout < 0:
        raise SettingsError("--shutdown-timeout: must not be negative")
    if settings.max_body_size < 1:
        raise SettingsError("--max-body-size: must be positive")
    if settings.max_connections < 0:
        raise SettingsError("--max-connections: must not be negative")
    for name in ("rate_limits_on_failure", "budgets_on_failure"):
        if getattr(settings, name) not in ("open", "closed"):
            raise SettingsError(f"--{name.replace('_', '-')}: must be open or closed")
    if settings.limits_timeout <= 0:
        raise SettingsError("--limits-timeout: must be positive")
    if settings.redis_url is not None and not settings.redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise SettingsError("--redis-url: must start with redis://, rediss:// or unix://")
    if logging.getLevelName(settings.log_level.upper()) not in (10, 20, 30, 40, 50):
        raise SettingsError(f"--log-level: unknown level {settings.log_level!r}")


def _read_api_keys(path: Path) -> frozenset[str]:
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise SettingsError(f"--api-keys-file: cannot read {path}: {exc.strerror}") from None
    keys = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not keys:
        raise SettingsError(f"--api-keys-file: {path} holds no keys")
    return keys


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit itself
        raise SettingsError(message)


__all__ = ["Settings", "SettingsError", "parse_settings", "DEFAULT_ALLOWED_HOSTS"]
