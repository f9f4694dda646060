"""An idle deadline for stream relays: cheap to re-arm for every chunk.

``asyncio.timeout(...).reschedule()`` around each upstream read replaces a timer
handle twice per chunk, which was ~6% of the gateway's CPU on busy streams. Here a
chunk only records when the wait began; one timer per stream wakes up once per
period and re-arms itself for the wait in progress.
"""

from __future__ import annotations

import asyncio


class IdleDeadline:
    """``with IdleDeadline(s) as idle:``: a wait between ``idle.waiting()`` and
    ``idle.done()`` longer than ``s`` seconds cancels the task, and leaving the block
    turns that cancellation into TimeoutError (as ``asyncio.timeout`` does). Time
    outside such a wait (writing to a slow client) does not count.
    """

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._since: float | None = None
        self._expired = False

    def __enter__(self) -> IdleDeadline:
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.current_task()
        self._handle = self._loop.call_at(self._loop.time() + self._seconds, self._check)
        return self

    def waiting(self) -> None:
        self._since = self._loop.time()

    def done(self) -> None:
        self._since = None

    def _check(self) -> None:
        now = self._loop.time()
        since = self._since
        if since is not None and now >= since + self._seconds:
            self._expired = True
            self._task.cancel()
            return
        self._handle = self._loop.call_at((now if since is None else since) + self._seconds, self._check)

    def __exit__(self, exc_type, exc, traceback) -> None:
        self._handle.cancel()
        # Our cancellation, and nobody else's: report it as a timeout.
        if self._expired and exc_type is asyncio.CancelledError and self._task.uncancel() == 0:
            raise TimeoutError from exc
