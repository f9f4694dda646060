"""gateway.deadline.Deadline: asyncio.timeout's semantics on a loop given in advance."""

from __future__ import annotations

import asyncio

import pytest

from gateway.deadline import Deadline

pytestmark = pytest.mark.unit


async def test_the_deadline_ends_the_block_with_timeout_error():
    loop = asyncio.get_running_loop()
    never = loop.create_future()
    with pytest.raises(TimeoutError):
        async with Deadline(loop, 0.01):
            await never
    assert asyncio.current_task().cancelling() == 0  # its own cancel() was taken back


async def test_a_block_that_ends_in_time_is_left_alone():
    loop = asyncio.get_running_loop()
    async with Deadline(loop, 0.01):
        await asyncio.sleep(0)
    # Its timer was cancelled on the way out: waiting past the deadline cancels nothing.
    await asyncio.sleep(0.05)


async def guarded_task(delay: float) -> asyncio.Task:
    """A task waiting forever inside a Deadline of ``delay``, once it is inside."""
    loop = asyncio.get_running_loop()
    entered = asyncio.Event()

    async def guarded():
        async with Deadline(loop, delay):
            entered.set()
            await loop.create_future()

    task = asyncio.create_task(guarded())
    await entered.wait()
    return task


async def test_a_cancel_from_outside_stays_a_cancellation():
    task = await guarded_task(5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outside_cancel_at_the_deadline_is_not_swallowed():
    """Both cancelled it: the caller's cancellation wins over the TimeoutError."""
    task = await guarded_task(0)
    task.cancel()  # the deadline's own cancel() comes in the same loop turn
    with pytest.raises(asyncio.CancelledError):
        await task
