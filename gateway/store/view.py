"""The in-memory view a worker reads per request, and what keeps it fresh.

A :class:`StoreView` is an immutable snapshot: API keys by hash, virtual keys by
slug, configs by slug and by id. Reading it costs a dict lookup; replacing it is one
attribute assignment, so a request sees either the old view or the new one, whole.

:class:`LiveView` polls the store's change counter every ``poll_interval`` (1 s) and
loads a new snapshot when it moved; PostgreSQL also wakes it at once with
LISTEN/NOTIFY. A change therefore reaches every worker within
:data:`REFRESH_BOUND_S` (2 s: one poll interval plus the snapshot load). When the
database cannot be reached, the last view keeps serving and ``reachable`` is False
(for ``/ready``) until a poll succeeds again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from .apikeys import hash_api_key
from .records import ApiKey, StoredConfig, VirtualKey

if TYPE_CHECKING:
    from .base import Store

log = logging.getLogger("gateway.store")

REFRESH_BOUND_S = 2.0
POLL_INTERVAL_S = 1.0


@dataclass(frozen=True)
class StoreView:
    version: int = -1
    api_keys: Mapping[str, ApiKey] = field(default_factory=lambda: MappingProxyType({}))
    virtual_keys: Mapping[str, VirtualKey] = field(default_factory=lambda: MappingProxyType({}))
    configs: Mapping[str, StoredConfig] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def build(
        cls,
        version: int,
        *,
        api_keys: Iterable[ApiKey],
        virtual_keys: Iterable[VirtualKey],
        configs: Iterable[StoredConfig],
    ) -> StoreView:
        by_ref: dict[str, StoredConfig] = {}
        for config in configs:
            by_ref[config.id] = config
            by_ref[config.slug] = config
        return cls(
            version,
            MappingProxyType({key.key_hash: key for key in api_keys}),
            MappingProxyType({vk.slug: vk for vk in virtual_keys}),
            MappingProxyType(by_ref),
        )

    def api_key(self, presented: str) -> ApiKey | None:
        """The stored key a client presented (``x-portkey-api-key``), by its hash."""
        return self.api_keys.get(hash_api_key(presented))

    def virtual_key(self, slug: str) -> VirtualKey | None:
        return self.virtual_keys.get(slug)

    def config(self, ref: str) -> StoredConfig | None:
        """A stored config by slug (``pc-...``) or id."""
        return self.configs.get(ref)


class LiveView:
    """Holds ``current`` (a StoreView) and replaces it when the store changes."""

    def __init__(self, store: Store, poll_interval: float = POLL_INTERVAL_S) -> None:
        self.store = store
        self.poll_interval = poll_interval
        self.current = StoreView()
        self.reachable = True
        self.polls = 0  # completed polls, successful or not
        self._wake = asyncio.Event()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Load the first snapshot (a failure here is raised), then keep it fresh."""
        self.current = await self.store.snapshot()
        self._task = asyncio.create_task(self._run(), name="store-view")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def wake(self) -> None:
        """Poll now instead of at the next interval (a NOTIFY, or this worker's own write)."""
        self._wake.set()

    async def wait_until(self, predicate: Callable[[LiveView], bool], timeout: float) -> None:
        """Wait until ``predicate(self)`` holds (re-checked after every poll)."""
        async with asyncio.timeout(timeout):
            async with self._changed:
                await self._changed.wait_for(lambda: predicate(self))

    async def _run(self) -> None:
        while True:
            await self.refresh()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.poll_interval):
                    await self._wake.wait()
            self._wake.clear()

    async def refresh(self) -> None:
        try:
            await self.store.watch(self.wake)
            if await self.store.version() != self.current.version:
                self.current = await self.store.snapshot()
        except Exception as exc:  # any database failure: keep serving the last view
            if self.reachable:
                log.warning(
                    "store unreachable; serving the last view",
                    extra={"fields": {"store": self.store.location, "error": _describe(exc)}},
                )
            self.reachable = False
        else:
            if not self.reachable:
                log.info("store reachable again", extra={"fields": {"store": self.store.location}})
            self.reachable = True
        self.polls += 1
        async with self._changed:
            self._changed.notify_all()


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
