"""Settings from the command line and the environment, validated once at start.

Every option has an environment variable (``GATEWAY_<NAME>``); the command line wins.
A bad value is a :class:`SettingsError` whose message is one line for the operator and
names where the value came from (``GATEWAY_PORT: not a valid integer: 'x'``).
"""

from __future__ import annotations

import argparse
import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from . import __version__
from .client_address import TrustedProxies
from .custom_host import DEFAULT_ALLOWED_HOSTS, HostAllowList
from .response_headers import HeaderAllowList


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
    # Longest request line or header field (name and value), e.g. a large x-portkey-config.
    max_header_size: int = 64 * 1024
    # Seconds in-flight requests get to finish after SIGTERM.
    shutdown_timeout: float = 30.0
    log_level: str = "info"
    allowed_custom_hosts: HostAllowList = field(default_factory=HostAllowList)
    # Keys clients must present in x-portkey-api-key; empty means no gateway auth.
    api_keys: frozenset[str] = frozenset()
    # Upstream connection pool size (0 = unlimited).
    max_connections: int = 1000
    # Upstream response headers passed to clients beyond the built-in allow list.
    pass_response_headers: HeaderAllowList = field(default_factory=HeaderAllowList)
    # Proxies (nginx) whose X-Forwarded-For names the client in the access line.
    trusted_proxies: TrustedProxies = field(default_factory=TrustedProxies)
    # Keys, virtual keys and configs (gateway/store/): a postgresql:// URL or a SQLite
    # path; default a SQLite file in state_dir (else $STATE_DIRECTORY, else ./.gateway-state).
    store: str | None = None
    state_dir: str | None = None
    # File holding the key that encrypts provider credentials at rest.
    master_key_file: str | None = None
    # File holding the admin key for /v1/virtual-keys, /v1/api-keys, /v1/configs.
    admin_key_file: str | None = None
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
    # URL POSTed (JSON) when a key's spend crosses its alert_threshold; None: log only.
    alert_webhook_url: str | None = None
    # Parsed routes kept per worker, by routing headers and client key (0 = none).
    route_cache_size: int = 512
    # Custom hosts kept validated per worker (0 = none).
    custom_host_cache_size: int = 256
    # Observability (gateway/observability/): Prometheus metrics, and where /metrics is
    # served (None: on the gateway's own port); OpenTelemetry traces (auto: when an
    # OTLP endpoint is configured in OTEL_* and the otel extra is installed).
    metrics: bool = True
    metrics_listen: tuple[str, int] | None = None
    metrics_max_models: int = 50
    # Per-key families labelled with API-key and virtual-key names (off: no such series).
    metrics_key_labels: bool = False
    metrics_max_keys: int = 100
    tracing: str = "auto"
    trace_content: bool = False
    # Response cache (gateway/cache/): auto = Redis when redis_url is set, else memory;
    # memory is per worker, bounded by bytes (LRU); max_age is the default and the
    # longest a config may ask for (seconds); shared: answers shared across gateway
    # keys and provider keys; timeout: seconds a Redis cache call may take (then a miss).
    cache_backend: str = "auto"
    cache_memory_size: int = 128 * 1024 * 1024
    cache_max_entry_size: int = 8 * 1024 * 1024
    cache_max_age: int = 7 * 24 * 3600
    cache_shared: bool = False
    cache_timeout: float = 0.25
    # Semantic cache (gateway/cache/semantic/): the embeddings target (JSON, as parsed by
    # ``semantic_embeddings``; None: semantic mode answers like simple mode), how long an
    # embedding may take, the default similarity, and the vectors kept.
    semantic_cache_embeddings: str | None = None
    semantic_cache_timeout: float = 2.0
    semantic_cache_threshold: float = 0.95
    semantic_cache_per_bucket: int = 64
    semantic_cache_vectors_size: int = 64 * 1024 * 1024


# The application's settings (set by ``app.create_app``).
SETTINGS = web.AppKey("settings", Settings)


def integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not a valid integer: {text!r}") from None


def port_number(text: str) -> int:
    port = integer(text)
    if not 0 < port < 65536:
        raise ValueError(f"must be 1-65535, got {port}")
    return port


def at_least_one(text: str) -> int:
    value = integer(text)
    if value < 1:
        raise ValueError(f"must be at least 1, got {value}")
    return value


def non_negative_integer(text: str) -> int:
    value = integer(text)
    if value < 0:
        raise ValueError(f"must not be negative, got {value}")
    return value


def _number_of_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"not a number of seconds: {text!r}")
    return value


def seconds(text: str) -> float:
    """A positive duration in seconds (``10``, ``2.5``)."""
    value = _number_of_seconds(text)
    if value <= 0:
        raise ValueError(f"must be positive, got {text!r}")
    return value


def seconds_or_zero(text: str) -> float:
    value = _number_of_seconds(text)
    if value < 0:
        raise ValueError(f"must not be negative, got {text!r}")
    return value


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3}
_SIZE = re.compile(r"(\d+)\s*([a-z]*)")


def size(text: str) -> int:
    """A positive size: plain bytes, or a whole number with kB, MB, GB (powers of 1000)
    or KiB, MiB, GiB (powers of 1024); units are case-insensitive."""
    match = _SIZE.fullmatch(text.strip().lower())
    if match is None or match[2] not in _SIZE_UNITS:
        raise ValueError(f"not a size (bytes, or a whole number with kB, KiB, MB, MiB, GB or GiB): {text!r}")
    value = int(match[1]) * _SIZE_UNITS[match[2]]
    if value < 1:
        raise ValueError(f"must be at least 1 byte, got {text!r}")
    return value


def header_size(text: str) -> int:
    """A size of at least 1 KiB: below that no request line with its Authorization
    header fits, so every request (probes included) would be a 431 (``64`` meant as KiB)."""
    value = size(text)
    if value < 1024:
        raise ValueError(f"must be at least 1KiB (a request line, an Authorization header), got {text!r}")
    return value


def format_size(value: int) -> str:
    for unit in ("GiB", "MiB", "KiB"):
        if value % _SIZE_UNITS[unit.lower()] == 0:
            return f"{value // _SIZE_UNITS[unit.lower()]}{unit}"
    return str(value)


def log_level(text: str) -> str:
    level = text.strip().lower()
    if level not in ("debug", "info", "warning", "error", "critical"):
        raise ValueError(f"unknown level {text!r} (debug, info, warning, error or critical)")
    return level


def comma_list(text: str) -> tuple[str, ...]:
    """Comma-separated items, blanks around them ignored. An empty value is an empty
    list; an empty item (``a,,b``, a trailing comma) is a mistake."""
    if not text.strip():
        return ()
    items = tuple(item.strip() for item in text.split(","))
    if "" in items:
        raise ValueError(f"empty item in the list (two commas in a row, or one at an end?): {text!r}")
    return items


_CIDR_SHAPE = re.compile(r"[0-9a-f.:]+/[0-9]*")
_HOST_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")


def host_patterns(text: str) -> HostAllowList:
    """``*``, host names, ``*.domain`` suffixes, IP addresses and CIDR networks."""
    patterns = tuple(item.lower() for item in comma_list(text))
    for pattern in patterns:
        _check_host_pattern(pattern)
    return HostAllowList(patterns)


def _check_host_pattern(pattern: str) -> None:
    if pattern == "*":
        return
    if _CIDR_SHAPE.fullmatch(pattern):
        try:
            ipaddress.ip_network(pattern, strict=False)
        except ValueError:
            raise ValueError(f"not a CIDR network: {pattern!r}") from None
        return
    try:
        ipaddress.ip_address(pattern)
        return
    except ValueError:
        pass
    name = pattern[2:] if pattern.startswith("*.") else pattern
    labels = name.rstrip(".").split(".")
    if (
        len(name) > 253
        or not all(_HOST_LABEL.fullmatch(label) for label in labels)
        or labels[-1].isdigit()  # 10.0.0.300 or 1.2.3: a mistyped address, not a name
    ):
        raise ValueError(f"not a host name, *.domain, IP address or CIDR network: {pattern!r}")


def trusted_proxies(text: str) -> TrustedProxies:
    return TrustedProxies.parse(",".join(comma_list(text)))
def on_off(text: str) -> bool:
    value = text.strip().lower()
    if value in ("on", "true", "yes", "1"):
        return True
    if value in ("off", "false", "no", "0"):
        return False
    raise ValueError(f"must be on or off, got {text!r}")


def host_and_port(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[::1]:9464`` for IPv6)."""
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host:
        raise ValueError(f"not HOST:PORT: {text!r}")
    return host.strip("[]"), port_number(port)


def tracing_mode(text: str) -> str:
    mode = text.strip().lower()
    if mode not in ("auto", "on", "off"):
        raise ValueError(f"must be auto, on or off, got {text!r}")
    return mode


def open_or_closed(text: str) -> str:
    value = text.strip().lower()
    if value not in ("open", "closed"):
        raise ValueError(f"must be open or closed, got {text!r}")
    return value


def cache_backend(text: str) -> str:
    value = text.strip().lower()
    if value not in ("auto", "memory", "redis", "off"):
        raise ValueError(f"must be auto, memory, redis or off, got {text!r}")
    return value


def redis_url(text: str) -> str:
    if not text.startswith(("redis://", "rediss://", "unix://")):
        raise ValueError("must start with redis://, rediss:// or unix://")
    return text


def webhook_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return text


def semantic_embeddings(text: str) -> str:
    """The embeddings target's JSON, checked (a ValueError says what is wrong)."""
    from .cache.semantic.embeddings_target import parse_embeddings_target  # imports the providers

    try:
        import numpy  # noqa: F401
    except ImportError:
        raise ValueError("needs numpy: pip install 'portkey-compatible-gateway[semantic]'") from None
    parse_embeddings_target(text)
    return text


def similarity(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None
    if not 0 < value <= 1:
        raise ValueError(f"must be a cosine similarity above 0 and at most 1, got {text!r}")
    return value


def api_keys_file(text: str) -> frozenset[str]:
    path = Path(text)
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc.strerror}") from None
    keys = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
    if not keys:
        raise ValueError(f"{path} holds no keys")
    return keys


# Plain types in the table read as these (so a row may say int, float or str), with
# messages like the others'; ranges are then up to the row's own parsing function.
_PLAIN = {int: integer, float: _number_of_seconds, str: str}

_OPTIONS = (
    # (name, type, help): type parses the text (and checks it) or raises ValueError.
    ("host", str, "address to listen on"),
    ("port", port_number, "port to listen on"),
    ("workers", at_least_one, "worker processes sharing the port (SO_REUSEPORT)"),
    ("connect_timeout", seconds, "seconds to connect to an upstream"),
    ("request_timeout", seconds, "default seconds until an upstream's first byte"),
    ("idle_timeout", seconds, "seconds an upstream may be silent between chunks"),
    ("max_body_size", size, "largest request body: bytes, or a size like 500kB, 64MiB"),
    ("max_header_size", header_size, "longest request line or header field (x-portkey-config): bytes, or like 64KiB"),
    ("shutdown_timeout", seconds_or_zero, "seconds in-flight requests get after SIGTERM"),
    ("log_level", log_level, "debug, info, warning or error"),
    ("allowed_custom_hosts", host_patterns, "comma-separated hosts, *.domains, IPs/CIDRs, or *"),
    ("api_keys_file", api_keys_file, "file of client keys (one a line) required in x-portkey-api-key"),
    ("max_connections", non_negative_integer, "upstream connection pool size (0 = unlimited)"),
    ("pass_response_headers", HeaderAllowList, "comma-separated upstream response headers (or prefix*) also passed"),
    ("trusted_proxies", trusted_proxies, "comma-separated IPs/CIDRs of proxies whose X-Forwarded-For is believed"),
    ("store", str, "postgresql:// URL or SQLite path of the key store (default: a file in the state dir)"),
    ("state_dir", str, "directory for the default SQLite store (default: $STATE_DIRECTORY or ./.gateway-state)"),
    ("master_key_file", str, "file with the key that encrypts stored provider credentials"),
    ("admin_key_file", str, "file with the admin key for the admin API (off without it)"),
    ("redis_url", redis_url, "redis://... for rate-limit and budget counters and the response cache, shared by a fleet (also --redis)"),
    ("limits_db", str, "SQLite file of the embedded counters (default: $STATE_DIRECTORY/limits.sqlite3)"),
    ("pricing_file", str, "JSON prices replacing or extending the shipped table"),
    ("rate_limits_on_failure", open_or_closed, "open or closed: rate limits when the counters are unreachable"),
    ("budgets_on_failure", open_or_closed, "open or closed: budgets when the counters are unreachable"),
    ("limits_timeout", seconds, "seconds a counter call may take before the on-failure policy applies"),
    ("alert_webhook_url", webhook_url, "http(s) URL POSTed when a key's spend crosses its alert_threshold"),
    ("route_cache_size", non_negative_integer, "parsed routes kept per worker, by routing headers and client key (0 = none)"),
    ("custom_host_cache_size", non_negative_integer, "validated custom hosts kept per worker (0 = none)"),
    ("metrics", on_off, "Prometheus metrics at /metrics: on or off"),
    ("metrics_listen", host_and_port, "HOST:PORT to serve /metrics on instead of the gateway's port"),
    ("metrics_max_models", at_least_one, "distinct model labels per worker before others count as 'other'"),
    ("metrics_key_labels", on_off, "per-key metrics labelled with API-key and virtual-key names: on or off"),
    ("metrics_max_keys", at_least_one, "distinct key names per label and worker before others count as 'other'"),
    ("tracing", tracing_mode, "OpenTelemetry traces (OTLP/HTTP, OTEL_* env): auto, on or off"),
    ("trace_content", on_off, "put prompts in trace spans: on or off"),
    ("cache_backend", cache_backend, "response cache: auto (redis with --redis, else memory), memory, redis or off"),
    ("cache_memory_size", size, "bytes of answers each worker's memory cache keeps (LRU), like 128MiB"),
    ("cache_max_entry_size", size, "largest answer the response cache keeps, like 8MiB"),
    ("cache_max_age", at_least_one, "seconds: a cached answer's default and longest max_age"),
    ("cache_shared", on_off, "share cached answers across gateway keys and provider keys: on or off"),
    ("cache_timeout", seconds, "seconds a Redis cache call may take before it counts as a miss"),
    ("semantic_cache_embeddings", semantic_embeddings, 'embeddings target of cache mode semantic, JSON: {"provider", "api_key" or "virtual_key", "model"}'),
    ("semantic_cache_timeout", seconds, "seconds an embedding may take before the lookup is a miss"),
    ("semantic_cache_threshold", similarity, "cosine similarity of a semantic hit when the config sets no similarity_threshold"),
    ("semantic_cache_per_bucket", at_least_one, "cached vectors per model, parameters and caller (least recently used go)"),
    ("semantic_cache_vectors_size", size, "memory for cached vectors per worker, like 64MiB (without Redis)"),
)
# Options whose value lands in a Settings field of another name.
_FIELD = {"api_keys_file": "api_keys"}


def parse_settings(argv: Sequence[str], environ: Mapping[str, str]) -> Settings:
    """Settings from flags, then ``GATEWAY_*`` variables, then defaults.

    ``--help`` and ``--version`` print and raise SystemExit(0), as argparse does.
    """
    parser = _ArgumentParser(prog="gateway", description="OpenAI-compatible AI gateway", allow_abbrev=False)
    parser.add_argument("--version", action="version", version=f"gateway {__version__}")
    for name, kind, help_text in _OPTIONS:
        env = _env_name(name)
        if help_text.endswith(")") and "(default: " in help_text:  # says its default itself
            help_text = f"{help_text[:-1]}; env {env})"
        else:
            help_text = f"{help_text} (default: {_default_text(name, kind)}; env {env})"
        parser.add_argument(_flag(name), dest=name, metavar=name.upper(), help=help_text)
    parser.add_argument("--redis", dest="redis_url", default=argparse.SUPPRESS, help="same as --redis-url")
    args = parser.parse_args(list(argv))
    values: dict = {}
    for name, kind, _ in _OPTIONS:
        text, source = getattr(args, name), _flag(name)
        if text is None:
            text, source = environ.get(_env_name(name)), _env_name(name)
        if text is None:
            continue
        try:
            values[_FIELD.get(name, name)] = _PLAIN.get(kind, kind)(text)
        except ValueError as exc:
            raise SettingsError(f"{source}: {exc}") from None
    settings = Settings(**values)
    if settings.cache_backend == "redis" and not settings.redis_url:
        raise SettingsError("--cache-backend redis: needs --redis (a redis:// URL)")
    return settings


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _env_name(name: str) -> str:
    return "GATEWAY_" + name.upper()


def _default_text(name: str, kind) -> str:
    default = getattr(Settings(), _FIELD.get(name, name), None)
    if kind in (size, header_size):
        return format_size(default)
    if isinstance(default, bool):
        return "on" if default else "off"
    if isinstance(default, HostAllowList):
        return ",".join(default.patterns)
    if isinstance(default, HeaderAllowList):
        return default.extra or "none"
    if isinstance(default, TrustedProxies):
        return ",".join(map(str, default.networks)) or "none"
    if isinstance(default, float) and default.is_integer():
        return str(int(default))
    if default is None or default == frozenset():
        return "none"
    return str(default)


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message: str):  # argparse would print usage and exit itself
        raise SettingsError(message)


__all__ = ["Settings", "SettingsError", "parse_settings", "DEFAULT_ALLOWED_HOSTS"]
