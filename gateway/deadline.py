"""A deadline for the running task: ``asyncio.timeout`` on a loop known in advance.

``asyncio.timeout`` looks up the running loop and task on entry, and on Python 3.11
each lookup is a ``getpid()`` system call (the fork check of
``get_running_loop``): two per upstream call. This one is given its loop. The
semantics are asyncio's: at the deadline the task is cancelled, and that
cancellation (only that one) leaves the block as ``TimeoutError``.
"""

from __future__ import annotations

import asyncio


class Deadline:
    __slots__ = ("_cancelling", "_delay", "_expired", "_handle", "_loop", "_task")

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self._loop = loop
        self._delay = delay

    async def __aenter__(self) -> Deadline:
        task = self._task = asyncio.current_task(self._loop)
        self._cancelling = task.cancelling()
        self._expired = False
        self._handle = self._loop.call_later(self._delay, self._expire)
        return self

    def _expire(self) -> None:
        self._expired = True
        self._task.cancel()

    async def __aexit__(self, exc_type, exc, traceback) -> None:
        self._handle.cancel()
        # Our cancel() is taken back whatever ended the block; a CancelledError that
        # was only ours becomes the TimeoutError (another cancel() still cancels).
        if self._expired and self._task.uncancel() <= self._cancelling and exc_type is asyncio.CancelledError:
            raise TimeoutError from exc
