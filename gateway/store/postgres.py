"""The fleet store: PostgreSQL through asyncpg.

asyncpg rather than psycopg 3: it is asyncio-native (no libpq to install — a wheel
carries everything), the fastest Python driver, and has first-class LISTEN/NOTIFY
(``Connection.add_listener``), which is how workers learn of changes at once.

Every write is one transaction that increments ``store_version`` and sends
``NOTIFY gateway_store`` (delivered at commit). Migrations run under a transaction-level
advisory lock, so gateways starting together apply each migration once.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import asyncpg
import orjson
from yarl import URL

from .base import Conflict, Store, StoreError
from .codec import Row
from .crypto import MasterKey
from .schema import MIGRATIONS, SCHEMA_VERSION_TABLE, TABLES

CHANNEL = "gateway_store"
# pg_advisory_xact_lock key for migrations: any constant the gateway alone uses.
MIGRATION_LOCK = 0x6761_7465_7761_79  # "gateway"
TIMEOUT_S = 5.0


def _redact(dsn: str) -> str:
    url = URL(dsn)
    return str(url.with_password("***")) if url.password else dsn


class PostgresStore(Store):
    def __init__(self, dsn: str, master: MasterKey | None = None) -> None:
        super().__init__(master)
        self.dsn = dsn
        self.location = _redact(dsn)
        self._pool: asyncpg.Pool | None = None
        self._listener: asyncpg.Connection | None = None

    async def _run(self, fn: Callable[[asyncpg.Connection], Any], *, write: bool = False) -> Any:
        if self._pool is None:
            raise StoreError(f"{self.location}: store not started")
        try:
            async with self._pool.acquire(timeout=TIMEOUT_S) as conn:
                if not write:
                    return await fn(conn)
                async with conn.transaction():
                    result = await fn(conn)
                    await conn.execute("UPDATE store_version SET version = version + 1")
                    await conn.execute("SELECT pg_notify($1, '')", CHANNEL)
                    return result
        except asyncpg.UniqueViolationError as exc:
            raise Conflict(str(exc)) from None
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"{self.location}: {type(exc).__name__}: {exc}") from exc

    async def start(self) -> None:
        try:
            self._pool = await asyncpg.create_pool(
                self.dsn, min_size=1, max_size=4, timeout=TIMEOUT_S, command_timeout=TIMEOUT_S
            )
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise StoreError(f"{self.location}: {type(exc).__name__}: {exc}") from exc
        await self._run(_migrate)

    async def close(self) -> None:
        if self._listener is not None and not self._listener.is_closed():
            await self._listener.close()
        self._listener = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None

    async def version(self) -> int:
        return await self._run(lambda conn: conn.fetchval("SELECT version FROM store_version"))

    async def schema_versions(self) -> list[int]:
        rows = await self._run(lambda conn: conn.fetch("SELECT version FROM schema_version ORDER BY version"))
        return [row["version"] for row in rows]

    async def watch(self, wake: Callable[[], None]) -> None:
        """LISTEN on a connection of its own; reconnects when a poll finds it closed."""
        if self._listener is not None and not self._listener.is_closed():
            return
        try:
            # Held at once, so that close() closes it even if this task is cancelled below.
            self._listener = await asyncpg.connect(self.dsn, timeout=TIMEOUT_S)
            await self._listener.add_listener(CHANNEL, lambda *_: wake())
        except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            if self._listener is not None:
                self._listener.terminate()
                self._listener = None
            raise StoreError(f"{self.location}: {type(exc).__name__}: {exc}") from exc
        wake()  # changes made while nobody listened: poll once more

    # --- row primitives

    async def _insert(self, table: str, row: Row) -> None:
        lookup = TABLES[table]
        await self._run(
            lambda conn: conn.execute(
                f"INSERT INTO {table} (id, {lookup}, doc, sealed, key_id, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7)",
                row.id, row.lookup, _json(row.doc), row.sealed, row.key_id, row.created_at, row.updated_at,
            ),
            write=True,
        )

    async def _update(self, table: str, row: Row) -> bool:
        lookup = TABLES[table]
        status = await self._run(
            lambda conn: conn.execute(
                f"UPDATE {table} SET {lookup} = $1, doc = $2, sealed = $3, key_id = $4, updated_at = $5 WHERE id = $6",
                row.lookup, _json(row.doc), row.sealed, row.key_id, row.updated_at, row.id,
            ),
            write=True,
        )
        return status == "UPDATE 1"

    async def _delete(self, table: str, column: str, value: str) -> bool:
        if column not in ("id", TABLES[table]):
            raise ValueError(f"{table} has no lookup column {column!r}")
        status = await self._run(
            lambda conn: conn.execute(f"DELETE FROM {table} WHERE {column} = $1", value), write=True
        )
        return status == "DELETE 1"

    async def _get(self, table: str, column: str, value: str) -> Row | None:
        if column not in ("id", TABLES[table]):
            raise ValueError(f"{table} has no lookup column {column!r}")
        lookup = TABLES[table]
        found = await self._run(
            lambda conn: conn.fetchrow(
                f"SELECT id, {lookup}, doc, sealed, created_at, updated_at FROM {table} WHERE {column} = $1", value
            )
        )
        return _row(found) if found else None

    async def _list(self, table: str) -> list[Row]:
        return await self._run(lambda conn: _select_all(conn, table))

    async def _read_all(self) -> tuple[int, dict[str, list[Row]]]:
        async def read(conn: asyncpg.Connection):
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                version = await conn.fetchval("SELECT version FROM store_version")
                return version, {table: await _select_all(conn, table) for table in TABLES}

        return await self._run(read)

    async def _reseal(self, reseal: Callable[[str, Row], str]) -> int:
        async def run(conn: asyncpg.Connection) -> int:
            count = 0
            for table in TABLES:
                for row in await _select_all(conn, table, lock=True):
                    if row.sealed:
                        sealed = reseal(table, row)
                        await conn.execute(
                            f"UPDATE {table} SET sealed = $1, key_id = $2 WHERE id = $3",
                            sealed, sealed.split(".", 2)[1], row.id,
                        )
                        count += 1
            return count

        return await self._run(run, write=True)


async def _migrate(conn: asyncpg.Connection) -> None:
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
        await conn.execute(SCHEMA_VERSION_TABLE)
        applied = {row["version"] for row in await conn.fetch("SELECT version FROM schema_version")}
        for version, description, statements in MIGRATIONS:
            if version in applied:
                continue
            for statement in statements:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES ($1, $2, $3)",
                version, description, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            )


async def _select_all(conn: asyncpg.Connection, table: str, *, lock: bool = False) -> list[Row]:
    lookup = TABLES[table]
    rows = await conn.fetch(
        f"SELECT id, {lookup}, doc, sealed, created_at, updated_at FROM {table} ORDER BY created_at, id"
        + (" FOR UPDATE" if lock else "")
    )
    return [_row(tuple(found)) for found in rows]


def _row(found) -> Row:
    row_id, lookup, doc, sealed, created_at, updated_at = tuple(found)
    return Row(row_id, lookup, orjson.loads(doc), sealed, created_at, updated_at)


def _json(doc: dict) -> str:
    return orjson.dumps(doc).decode()
