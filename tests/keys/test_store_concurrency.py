"""Several writers and readers at once, on both backends: exact counts, consistent views."""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from gateway.store import REFRESH_BOUND_S, LiveView, ProviderCredentials, StoreError, VirtualKey, open_store
from tests.keys.conftest import MASTER

PROCESSES = 4
PER_PROCESS = 25


def vk(slug: str) -> VirtualKey:
    return VirtualKey(id=slug, slug=slug, name=slug, provider="openai", credentials=ProviderCredentials(api_key=f"sk-{slug}-0123456789"))


async def test_processes_migrate_and_write_at_once_with_exact_results(store_url):
    """Fresh store: 4 processes start together (racing migrations) and write 25 keys each."""
    processes = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.keys.writer", store_url, f"p{n}", str(PER_PROCESS),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for n in range(PROCESSES)
    ]
    results = [await asyncio.wait_for(p.communicate(), timeout=60) for p in processes]
    for process, (_, stderr) in zip(processes, results, strict=True):
        assert process.returncode == 0, stderr.decode()
    store = open_store(store_url, MASTER)
    await store.start()
    try:
        assert await store.schema_versions() == [1]
        assert await store.version() == PROCESSES * PER_PROCESS  # one increment per write, none lost
        view = await store.snapshot()
        assert set(view.virtual_keys) == {f"p{n}-{i}" for n in range(PROCESSES) for i in range(PER_PROCESS)}
        assert all(vk.credentials.api_key == f"sk-{slug}-0123456789" for slug, vk in view.virtual_keys.items())
    finally:
        await store.close()


async def test_concurrent_writers_and_live_views_see_whole_snapshots(make_store):
    writers = [await make_store() for _ in range(4)]
    views = [LiveView(await make_store(), poll_interval=0.05) for _ in range(2)]
    for view in views:
        await view.start()
    seen: list[tuple[int, int]] = []
    stop = asyncio.Event()

    async def watch(view: LiveView) -> None:
        while not stop.is_set():
            async with view._changed:
                await view._changed.wait()
            current = view.current
            seen.append((current.version, len(current.virtual_keys)))

    async def write(store, n: int) -> None:
        for i in range(10):
            await store.create_virtual_key(vk(f"t{n}-{i}"))

    watchers = [asyncio.create_task(watch(view)) for view in views]
    try:
        await asyncio.gather(*(write(writers[n % 4], n) for n in range(8)))
        for view in views:
            await view.wait_until(lambda v: len(v.current.virtual_keys) == 80, timeout=REFRESH_BOUND_S * 3)
            assert set(view.current.virtual_keys) == {f"t{n}-{i}" for n in range(8) for i in range(10)}
            assert view.current.version == 80
    finally:
        stop.set()
        for view in views:
            view.wake()
        for task in watchers:
            task.cancel()
        await asyncio.gather(*watchers, return_exceptions=True)
        for view in views:
            await view.stop()
    # Every snapshot a reader held was whole: exactly as many keys as writes committed.
    assert seen and all(version == count for version, count in seen)


async def test_sqlite_failure_keeps_the_last_view_and_says_so(tmp_path, monkeypatch):
    store = open_store(str(tmp_path / "gateway.db"), MASTER)
    await store.start()
    await store.create_virtual_key(vk("kept"))
    view = LiveView(store, poll_interval=0.05)
    await view.start()
    try:
        async def broken():
            raise StoreError("disk gone")

        monkeypatch.setattr(store, "version", broken)
        await view.wait_until(lambda v: not v.reachable, timeout=5)
        assert "kept" in view.current.virtual_keys
        monkeypatch.undo()
        await view.wait_until(lambda v: v.reachable, timeout=5)
    finally:
        await view.stop()
        await store.close()


async def test_postgres_unreachable_keeps_the_last_view_then_recovers(postgres_server, postgres_url):
    name = postgres_url.rsplit("/", 1)[1]
    store = open_store(postgres_url, MASTER)
    await store.start()
    await store.create_virtual_key(vk("kept"))
    view = LiveView(store, poll_interval=0.05)
    await view.start()
    admin = await asyncpg.connect(postgres_server.url)
    try:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", name)
        await view.wait_until(lambda v: not v.reachable, timeout=10)
        assert "kept" in view.current.virtual_keys
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await view.wait_until(lambda v: v.reachable, timeout=10)
        await store.create_virtual_key(vk("after"))
        await view.wait_until(lambda v: "after" in v.current.virtual_keys, timeout=REFRESH_BOUND_S * 3)
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
        await view.stop()
        await store.close()


async def test_postgres_notify_wakes_a_view_before_its_poll(postgres_url):
    """With a poll interval far beyond the test's wait, only NOTIFY can deliver the change."""
    writer = open_store(postgres_url, MASTER)
    reader = open_store(postgres_url, MASTER)
    await writer.start()
    await reader.start()
    view = LiveView(reader, poll_interval=3600)
    await view.start()
    try:
        # The first poll subscribes and wakes the loop for a second one; after that the
        # loop sleeps for an hour unless a NOTIFY wakes it.
        await view.wait_until(lambda v: v.polls >= 2, timeout=10)
        await writer.create_virtual_key(vk("notified"))
        await view.wait_until(lambda v: "notified" in v.current.virtual_keys, timeout=10)
    finally:
        await view.stop()
        await writer.close()
        await reader.close()
