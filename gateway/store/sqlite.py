"""The default store: one SQLite file in the state directory.

The file is created 0600 (SQLite gives its -wal and -shm files the same mode) and
runs in WAL mode, so readers never wait for the writer. Every call runs on one
thread of its own (sqlite3 blocks), never on the event loop. Several processes share
the file: writes take SQLite's write lock (``BEGIN IMMEDIATE``, waiting up to
``busy_timeout``), and migrations run under that same lock.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson

from .base import Conflict, Store, StoreError
from .codec import Row
from .crypto import MasterKey
from .schema import MIGRATIONS, SCHEMA_VERSION_TABLE, TABLES

BUSY_TIMEOUT_MS = 15_000


class SqliteStore(Store):
    def __init__(self, path: str | os.PathLike, master: MasterKey | None = None) -> None:
        super().__init__(master)
        self.path = Path(path)
        self.location = str(self.path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-store")
        self._db: sqlite3.Connection | None = None

    async def _call(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        def run():
            if self._db is None:
                self._db = self._connect()
            return fn(self._db)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, run)
        except sqlite3.IntegrityError as exc:
            raise Conflict(str(exc)) from None
        except sqlite3.Error as exc:
            raise StoreError(f"{self.location}: {exc}") from exc

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Create the file 0600 before SQLite opens it (SQLite would honour the umask).
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        db = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = NORMAL")
        return db

    async def start(self) -> None:
        await self._call(_migrate)

    async def close(self) -> None:
        def close(db: sqlite3.Connection) -> None:
            db.close()
            self._db = None

        if self._db is not None:
            await self._call(close)
        self._executor.shutdown(wait=True)

    async def version(self) -> int:
        return await self._call(lambda db: db.execute("SELECT version FROM store_version").fetchone()[0])

    async def schema_versions(self) -> list[int]:
        return await self._call(
            lambda db: [v for (v,) in db.execute("SELECT version FROM schema_version ORDER BY version")]
        )

    # --- row primitives

    async def _insert(self, table: str, row: Row) -> None:
        lookup = TABLES[table]

        def insert(db: sqlite3.Connection) -> None:
            with _write(db):
                db.execute(
                    f"INSERT INTO {table} (id, {lookup}, doc, sealed, key_id, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (row.id, row.lookup, _json(row.doc), row.sealed, row.key_id, row.created_at, row.updated_at),
                )

        await self._call(insert)

    async def _update(self, table: str, row: Row) -> bool:
        lookup = TABLES[table]

        def update(db: sqlite3.Connection) -> bool:
            with _write(db):
                cursor = db.execute(
                    f"UPDATE {table} SET {lookup} = ?, doc = ?, sealed = ?, key_id = ?, updated_at = ? WHERE id = ?",
                    (row.lookup, _json(row.doc), row.sealed, row.key_id, row.updated_at, row.id),
                )
                return cursor.rowcount == 1

        return await self._call(update)

    async def _delete(self, table: str, column: str, value: str) -> bool:
        _check_column(table, column)

        def delete(db: sqlite3.Connection) -> bool:
            with _write(db):
                return db.execute(f"DELETE FROM {table} WHERE {column} = ?", (value,)).rowcount == 1

        return await self._call(delete)

    async def _get(self, table: str, column: str, value: str) -> Row | None:
        _check_column(table, column)
        lookup = TABLES[table]

        def get(db: sqlite3.Connection) -> Row | None:
            found = db.execute(
                f"SELECT id, {lookup}, doc, sealed, created_at, updated_at FROM {table} WHERE {column} = ?", (value,)
            ).fetchone()
            return _row(found) if found else None

        return await self._call(get)

    async def _list(self, table: str) -> list[Row]:
        return await self._call(lambda db: _select_all(db, table))

    async def _read_all(self) -> tuple[int, dict[str, list[Row]]]:
        def read(db: sqlite3.Connection):
            db.execute("BEGIN")  # one read transaction: one consistent snapshot (WAL)
            try:
                version = db.execute("SELECT version FROM store_version").fetchone()[0]
                return version, {table: _select_all(db, table) for table in TABLES}
            finally:
                db.execute("COMMIT")

        return await self._call(read)

    async def _reseal(self, reseal: Callable[[str, Row], str]) -> int:
        def run(db: sqlite3.Connection) -> int:
            count = 0
            with _write(db):
                for table in TABLES:
                    for row in _select_all(db, table):
                        if row.sealed:
                            sealed = reseal(table, row)
                            key_id = sealed.split(".", 2)[1]
                            db.execute(f"UPDATE {table} SET sealed = ?, key_id = ? WHERE id = ?", (sealed, key_id, row.id))
                            count += 1
            return count

        return await self._call(run)


class _write:
    """One write transaction holding SQLite's write lock; bumps the change counter."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.db.execute("UPDATE store_version SET version = version + 1")
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")


def _migrate(db: sqlite3.Connection) -> None:
    db.execute("BEGIN IMMEDIATE")  # the write lock: a second process waits here
    try:
        db.execute(SCHEMA_VERSION_TABLE)
        applied = {v for (v,) in db.execute("SELECT version FROM schema_version")}
        for version, description, statements in MIGRATIONS:
            if version in applied:
                continue
            for statement in statements:
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (version, description, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())),
            )
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise


def _select_all(db: sqlite3.Connection, table: str) -> list[Row]:
    lookup = TABLES[table]
    cursor = db.execute(f"SELECT id, {lookup}, doc, sealed, created_at, updated_at FROM {table} ORDER BY created_at, id")
    return [_row(found) for found in cursor]


def _row(found: tuple) -> Row:
    row_id, lookup, doc, sealed, created_at, updated_at = found
    return Row(row_id, lookup, orjson.loads(doc), sealed, created_at, updated_at)


def _json(doc: dict) -> str:
    return orjson.dumps(doc).decode()


def _check_column(table: str, column: str) -> None:
    if column not in ("id", TABLES[table]):  # names go into SQL text: only known ones
        raise ValueError(f"{table} has no lookup column {column!r}")
