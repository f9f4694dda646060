"""IdleDeadline, the relay's idle timer (end to end: tests/test_streaming.py and
tests/routing/test_timeouts.py, silent upstreams ending with stream_idle_timeout)."""

from __future__ import annotations

import asyncio

import pytest

from gateway.streaming.idle import IdleDeadline


async def test_time_outside_a_wait_does_not_count():
    released = asyncio.Event()
    with IdleDeadline(0.05) as idle:
        # Not waiting: the deadline re-arms instead of firing.
        loop = asyncio.get_running_loop()
        loop.call_later(0.15, released.set)
        await released.wait()
        idle.waiting()
        idle.done()


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
