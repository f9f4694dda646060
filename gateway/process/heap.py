"""The garbage collector's settings for a long-lived server process."""

from __future__ import annotations

import gc

# A request allocates a few hundred container objects (its state, records, headers,
# frames), nearly all freed by reference counting when it ends. With the default
# young-generation threshold (700) the collector runs every couple of requests and
# walks every in-flight request's objects, promoting them to be walked again; at
# 50,000 most of them are gone before it runs. Cycles are still collected, later.
YOUNG_THRESHOLD = 50_000


def settle() -> None:
    """Keep everything allocated so far (the imports) out of the collector's passes,
    and run its young passes less often. Called once, before the workers fork."""
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
