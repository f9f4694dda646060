"""Fixtures for the store: SQLite in a temp dir, and a real PostgreSQL server.

``store_url`` is parametrized over both backends, so every store test runs on each.
Without PostgreSQL the postgres cases are skipped, except under ``CI=true``, where a
missing PostgreSQL is a failure.
"""

from __future__ import annotations

import itertools
import os

import pytest

from gateway.store import MasterKey, open_store
from tests.keys.postgres import PostgresUnavailable, start_postgres

MASTER = MasterKey.from_bytes(b"test master key, thirty-two bytes or more, 0123456789")
OTHER_MASTER = MasterKey.from_bytes(b"another master key, also thirty-two bytes long, abcdef")
_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres_server():
    try:
        server = start_postgres()
    except PostgresUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required under CI=true: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server) -> str:
    """A fresh, empty database on the session's server."""
    return postgres_server.create_database(f"gw_test_{os.getpid()}_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "state" / "gateway.db")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def make_store(store_url):
    """``await make_store(master)``: a started store on the test's location; several may share it."""
    stores = []

    async def make(master: MasterKey | None = MASTER):
        store = open_store(store_url, master)
        await store.start()
        stores.append(store)
        return store

    yield make
    for store in stores:
        await store.close()


@pytest.fixture
async def store(make_store):
    return await make_store()
