"""When to restart a worker that died, and when to give up."""

from __future__ import annotations

from collections import defaultdict

# A worker that ran this long before dying was healthy: its slot's backoff starts over.
STABLE_AFTER_SECONDS = 30.0
# The second death in a row waits this long, each later one twice as long, up to CAP.
FIRST_DELAY_SECONDS = 0.5
CAP_SECONDS = 30.0
# A slot whose workers die this many times in a row before listening cannot start.
MAX_FAILED_STARTS = 5


class RestartPolicy:
    """Per worker slot: restart at once after a healthy run, then back off exponentially.

    A worker that crashes in a loop costs at most one fork per ``CAP_SECONDS``; one that
    never gets as far as listening (``MAX_FAILED_STARTS`` times in a row) means the
    workers cannot start at all, and :meth:`after_death` says so by returning None.
    """

    def __init__(self) -> None:
        self._deaths: defaultdict[int, int] = defaultdict(int)
        self._failed_starts: defaultdict[int, int] = defaultdict(int)

    def after_death(self, slot: int, ran_for: float, was_listening: bool) -> float | None:
        """Seconds to wait before restarting ``slot``, or None to give up."""
        if was_listening:
            self._failed_starts[slot] = 0
            if ran_for >= STABLE_AFTER_SECONDS:
                self._deaths[slot] = 0
        else:
            self._failed_starts[slot] += 1
            if self._failed_starts[slot] >= MAX_FAILED_STARTS:
                return None
        self._deaths[slot] += 1
        deaths = self._deaths[slot]
        return 0.0 if deaths == 1 else min(CAP_SECONDS, FIRST_DELAY_SECONDS * 2 ** (deaths - 2))
