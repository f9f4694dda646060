"""The one store interface: typed operations on records over a few row primitives.

:class:`Store` turns records into rows (:mod:`.codec`: secrets sealed under the master
key) and back; a backend (:mod:`.sqlite`, :mod:`.postgres`) implements only the row
primitives, each write in one transaction that also increments ``store_version``.
Nothing here is on the request path: workers read a :class:`~.view.StoreView`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

from . import codec
from .codec import Row
from .crypto import MasterKey, MasterKeyError
from .records import ApiKey, StoredConfig, VirtualKey
from .view import StoreView


class StoreError(Exception):
    """The database cannot be reached or answered with an error."""


class Conflict(StoreError):
    """A unique field (a slug) is taken."""


class Store(ABC):
    #: Printable location (no password), for logs and errors.
    location: str = ""

    def __init__(self, master: MasterKey | None = None) -> None:
        self.master = master

    # --- lifecycle and change detection (backends)

    @abstractmethod
    async def start(self) -> None:
        """Connect and apply pending migrations."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def version(self) -> int:
        """The change counter: it grows with every committed write."""

    async def watch(self, wake: Callable[[], None]) -> None:  # noqa: B027 - optional hook
        """Call ``wake()`` soon after any write commits (PostgreSQL LISTEN); polling covers the rest.

        Called again by each poll, so a backend can re-subscribe after losing its connection.
        """

    @abstractmethod
    async def schema_versions(self) -> list[int]: ...

    # --- row primitives (backends)

    @abstractmethod
    async def _insert(self, table: str, row: Row) -> None:
        """Insert, or raise Conflict if the id or the lookup value exists."""

    @abstractmethod
    async def _update(self, table: str, row: Row) -> bool: ...

    @abstractmethod
    async def _delete(self, table: str, column: str, value: str) -> bool: ...

    @abstractmethod
    async def _get(self, table: str, column: str, value: str) -> Row | None: ...

    @abstractmethod
    async def _list(self, table: str) -> list[Row]: ...

    @abstractmethod
    async def _read_all(self) -> tuple[int, dict[str, list[Row]]]:
        """The version and every row of every table, read in one consistent snapshot."""

    @abstractmethod
    async def _reseal(self, reseal: Callable[[str, Row], str]) -> int:
        """In one transaction, replace every row's ``sealed`` with ``reseal(table, row)``."""

    # --- virtual keys

    async def create_virtual_key(self, vk: VirtualKey) -> None:
        await self._insert("virtual_keys", codec.virtual_key_row(vk, self.master))

    async def get_virtual_key(self, slug: str) -> VirtualKey | None:
        row = await self._get("virtual_keys", "slug", slug)
        return codec.virtual_key_record(row, self.master) if row else None

    async def list_virtual_keys(self) -> list[VirtualKey]:
        return [codec.virtual_key_record(row, self.master) for row in await self._list("virtual_keys")]

    async def update_virtual_key(self, vk: VirtualKey) -> bool:
        return await self._update("virtual_keys", codec.virtual_key_row(vk, self.master))

    async def delete_virtual_key(self, slug: str) -> bool:
        return await self._delete("virtual_keys", "slug", slug)

    # --- API keys

    async def create_api_key(self, key: ApiKey) -> None:
        await self._insert("api_keys", codec.api_key_row(key))

    async def get_api_key(self, key_id: str) -> ApiKey | None:
        row = await self._get("api_keys", "id", key_id)
        return codec.api_key_record(row) if row else None

    async def list_api_keys(self) -> list[ApiKey]:
        return [codec.api_key_record(row) for row in await self._list("api_keys")]

    async def update_api_key(self, key: ApiKey) -> bool:
        return await self._update("api_keys", codec.api_key_row(key))

    async def delete_api_key(self, key_id: str) -> bool:
        return await self._delete("api_keys", "id", key_id)

    # --- configs (by id or by slug)

    async def create_config(self, config: StoredConfig) -> None:
        await self._insert("configs", codec.config_row(config, self.master))

    async def get_config(self, ref: str) -> StoredConfig | None:
        row = await self._get("configs", "slug", ref) or await self._get("configs", "id", ref)
        return codec.config_record(row, self.master) if row else None

    async def list_configs(self) -> list[StoredConfig]:
        return [codec.config_record(row, self.master) for row in await self._list("configs")]

    async def update_config(self, config: StoredConfig) -> bool:
        return await self._update("configs", codec.config_row(config, self.master))

    async def delete_config(self, ref: str) -> bool:
        return await self._delete("configs", "slug", ref) or await self._delete("configs", "id", ref)

    # --- the view, and the master key

    async def snapshot(self) -> StoreView:
        version, rows = await self._read_all()
        return StoreView.build(
            version,
            api_keys=[codec.api_key_record(row) for row in rows["api_keys"]],
            virtual_keys=[codec.virtual_key_record(row, self.master) for row in rows["virtual_keys"]],
            configs=[codec.config_record(row, self.master) for row in rows["configs"]],
        )

    async def sealed_key_ids(self) -> set[str]:
        _, rows = await self._read_all()
        return {row.key_id for table in rows.values() for row in table if row.key_id}

    async def check_master_key(self) -> None:
        """Raise MasterKeyError (one line) if sealed entries exist that this master key cannot open."""
        key_ids = await self.sealed_key_ids()
        if not key_ids:
            return
        if self.master is None:
            raise MasterKeyError(
                f"the store at {self.location} holds encrypted credentials: give the master key "
                "(--master-key-file or GATEWAY_MASTER_KEY_FILE)"
            )
        wrong = key_ids - {self.master.key_id}
        if wrong:
            raise MasterKeyError(
                f"the master key (id {self.master.key_id}) is not the one the store at {self.location} "
                f"was encrypted with (id {', '.join(sorted(wrong))})"
            )

    async def rotate_master_key(self, new: MasterKey) -> int:
        """Re-encrypt every sealed value under ``new`` in one transaction; returns how many."""
        old = self.master
        if old is None:
            raise MasterKeyError("rotating needs the current master key (--master-key-file)")

        def reseal(table: str, row: Row) -> str:
            where = codec.context(table, row.id)
            return new.seal(old.open(row.sealed or "", where), where)

        count = await self._reseal(reseal)
        self.master = new
        return count

