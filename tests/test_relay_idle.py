"""IdleDeadline, the relay's idle timer (end to end: tests/test_streaming.py and
tests/routing/test_timeouts.py, silent upstreams ending with stream_idle_timeout)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.streaming.idle import IdleDeadline


async def test_time_outside_a_wait_does_not_count_and_the_next_wait_still_does():
    loop = asyncio.get_running_loop()
    phases: list[str] = []

    async def run() -> None:
        with IdleDeadline(0.05) as idle:
            # Three deadlines' worth of time without waiting (a slow client being
            # written to): the deadline re-arms instead of firing.
            released = asyncio.Event()
            loop.call_later(0.15, released.set)
            await released.wait()
            phases.append("outside a wait: not cut")
            # A short wait ends in time.
            idle.waiting()
            await asyncio.sleep(0)
            idle.done()
            phases.append("short wait: not cut")
            # A wait past the deadline is cut, however long the block has lasted.
            idle.waiting()
            phases.append("long wait")
            await asyncio.Event().wait()

    task = asyncio.create_task(run())
    done, _ = await asyncio.wait({task}, timeout=5)  # a deadline that never fires would hang
    assert task in done, "the idle deadline never fired"
    with pytest.raises(TimeoutError):
        task.result()
    assert phases == ["outside a wait: not cut", "short wait: not cut", "long wait"]


async def test_a_wait_past_the_deadline_raises_timeout_error():
    with pytest.raises(TimeoutError):
        with IdleDeadline(0.05) as idle:
            idle.waiting()
            await asyncio.Event().wait()


async def test_another_cancellation_stays_a_cancellation():
    started = asyncio.Event()

    async def waits():
        with IdleDeadline(60) as idle:
            idle.waiting()
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(waits())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
