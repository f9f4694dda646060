"""Where the store lives: ``--store`` (a path or a ``postgresql://`` URL), else a
SQLite file in the state directory (``--state-dir``, else systemd's
``$STATE_DIRECTORY``, else ``./.gateway-state``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from .base import Store
from .crypto import MasterKey

DEFAULT_STATE_DIR = ".gateway-state"
DEFAULT_FILE = "gateway.db"


def state_dir(configured: str | None, environ: Mapping[str, str]) -> Path:
    if configured:
        return Path(configured)
    # systemd's StateDirectory= may list several, separated by colons: the first is ours.
    systemd = environ.get("STATE_DIRECTORY", "").split(":")[0]
    return Path(systemd or DEFAULT_STATE_DIR)


def resolve_store_url(store: str | None, state: str | None, environ: Mapping[str, str]) -> str:
    """A ``postgresql://`` URL, or the path of the SQLite file."""
    if store:
        if store.startswith("sqlite:///"):
            return store[len("sqlite://") :]
        return store
    return str(state_dir(state, environ) / DEFAULT_FILE)


def is_postgres(url: str) -> bool:
    return url.startswith(("postgresql://", "postgres://"))


def open_store(url: str, master: MasterKey | None = None) -> Store:
    """The store at ``url`` (not started: call ``await store.start()``)."""
    if is_postgres(url):
        from .postgres import PostgresStore

        return PostgresStore(url, master)
    from .sqlite import SqliteStore

    return SqliteStore(os.path.expanduser(url), master)
