"""Versioned schema migrations, shared by SQLite and PostgreSQL (portable SQL).

Each migration runs once, in order, inside the transaction that holds the store's
migration lock (SQLite ``BEGIN IMMEDIATE``, PostgreSQL ``pg_advisory_xact_lock``), and
is recorded in ``schema_version``: two processes starting at once apply it once.
Add migrations at the end; never edit one that has shipped.

Every object table has the same columns: ``id``, a unique lookup column (``slug`` or
``key_hash``), ``doc`` (the record's non-secret fields as JSON), ``sealed`` (its
secrets, AES-GCM, or NULL) and ``key_id`` (the master key that sealed them).
``store_version`` is a change counter every write increments: a worker compares it
to the version of its view to learn that something changed.
"""

from __future__ import annotations

SCHEMA_VERSION_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_version ("
    "version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)"
)

# table → its unique lookup column
TABLES = {"virtual_keys": "slug", "api_keys": "key_hash", "configs": "slug"}


def _object_table(name: str, lookup: str) -> str:
    return (
        f"CREATE TABLE {name} (id TEXT PRIMARY KEY, {lookup} TEXT NOT NULL UNIQUE, doc TEXT NOT NULL, "
        "sealed TEXT, key_id TEXT, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )


MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "virtual keys, API keys, configs and the change counter",
        (
            *(_object_table(name, lookup) for name, lookup in TABLES.items()),
            "CREATE TABLE store_version (id INTEGER PRIMARY KEY CHECK (id = 1), version BIGINT NOT NULL)",
            "INSERT INTO store_version (id, version) VALUES (1, 0)",
        ),
    ),
)

LATEST = MIGRATIONS[-1][0]
