"""The store as a running gateway holds it: opened at start, its view kept fresh.

The store is in use when the operator asked for it (``--store``, ``--admin-key-file``
or ``--master-key-file``) or when the default SQLite file already exists (made by
the ``gateway keys|virtual-keys|configs`` commands); otherwise nothing is opened and
nothing costs anything. A worker reads ``app[STORE_RUNTIME].view.current`` (a
StoreView) per request; it never waits on the database.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from ..settings import Settings
from .base import Store
from .crypto import MasterKey
from .location import is_postgres, open_store, resolve_store_url
from .view import LiveView

log = logging.getLogger("gateway.store")

MIN_ADMIN_KEY_CHARS = 16


class StartupError(Exception):
    """The store cannot be used as configured; the message is one line for the operator."""


@dataclass
class StoreRuntime:
    store: Store
    view: LiveView
    # The admin key (bytes, for a constant-time comparison); None: the admin API is off.
    admin_key: bytes | None = field(default=None, repr=False)


STORE_RUNTIME = web.AppKey("store_runtime", StoreRuntime)


def store_url_for(settings: Settings, environ: Mapping[str, str] = os.environ) -> str | None:
    """The store's URL or path, or None when this gateway uses no store."""
    url = resolve_store_url(settings.store, settings.state_dir, environ)
    if settings.store or settings.admin_key_file or settings.master_key_file:
        return url
    if not is_postgres(url) and Path(url).exists():
        return url
    return None


def load_master_key(settings: Settings) -> MasterKey | None:
    from .crypto import MasterKeyError

    if not settings.master_key_file:
        return None
    try:
        return MasterKey.from_file(settings.master_key_file)
    except MasterKeyError as exc:
        raise StartupError(f"--master-key-file: {exc}") from None


def load_admin_key(settings: Settings) -> bytes | None:
    if not settings.admin_key_file:
        return None
    try:
        key = Path(settings.admin_key_file).read_text().strip()
    except OSError as exc:
        raise StartupError(f"--admin-key-file: cannot read {settings.admin_key_file}: {exc.strerror}") from None
    if len(key) < MIN_ADMIN_KEY_CHARS:
        raise StartupError(f"--admin-key-file: the admin key must be at least {MIN_ADMIN_KEY_CHARS} characters")
    return key.encode()


async def open_checked_store(settings: Settings, environ: Mapping[str, str] = os.environ) -> Store | None:
    """The started store, after checking the master key opens every sealed entry."""
    from .base import StoreError
    from .crypto import MasterKeyError

    url = store_url_for(settings, environ)
    if url is None:
        return None
    store = open_store(url, load_master_key(settings))
    try:
        await store.start()
        await store.check_master_key()
    except MasterKeyError as exc:
        await store.close()
        raise StartupError(str(exc)) from None
    except StoreError as exc:
        await store.close()
        raise StartupError(f"cannot open the store: {exc}") from None
    return store


async def store_context(app: web.Application) -> AsyncIterator[None]:
    """Cleanup context: open the store and its live view for this worker, close them at exit."""
    from ..settings import SETTINGS

    settings = app[SETTINGS]
    admin_key = load_admin_key(settings)
    store = await open_checked_store(settings)
    if store is None:
        yield
        return
    view = LiveView(store)
    await view.start()
    app[STORE_RUNTIME] = StoreRuntime(store, view, admin_key)
    log.info("store open", extra={"fields": {"store": store.location, "version": view.current.version}})
    try:
        yield
    finally:
        await view.stop()
        await store.close()
