"""The setup shared by tests of a gateway with a store: its admin and master key files, and
waiting for the worker's view to see an admin write. The ``admin`` (portkey-ai SDK) and
``view`` fixtures are in ``tests/conftest.py``."""

from __future__ import annotations

from pathlib import Path

from gateway.settings import Settings

ADMIN_KEY = "admin-key-0123456789abcdef"
ADMIN = {"x-portkey-api-key": ADMIN_KEY}


def store_settings(tmp_path: Path, store: str | None = None, **fields) -> Settings:
    """Settings with a store (SQLite under ``tmp_path`` unless named), an admin key and a master key."""
    (tmp_path / "admin.key").write_text(ADMIN_KEY + "\n")
    (tmp_path / "master.key").write_text("a master key of more than thirty-two bytes, for tests\n")
    return Settings(
        store=store or str(tmp_path / "state" / "gateway.db"),
        admin_key_file=str(tmp_path / "admin.key"),
        master_key_file=str(tmp_path / "master.key"),
        **fields,
    )


async def settled(view) -> None:
    """Wait until this worker's view has the store's latest version (the admin write woke it)."""
    version = await view.store.version()
    await view.wait_until(lambda v: v.current.version == version, timeout=5)
