"""What routing takes from the world: randomness and time, injectable for tests.

The defaults are the real ones. A test sets ``app[ROUTING_TOOLS]`` before the app
starts, e.g. ``RoutingTools(random=Random(7).random, sleep=recording_sleep)``, so that
load balancing is reproducible and backoff waits take no time.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web


@dataclass(frozen=True)
class RoutingTools:
    # A float in [0, 1): load-balancing choices and backoff jitter.
    random: Callable[[], float] = random.random
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    # Wall-clock seconds, to read retry-after given as an HTTP date.
    now: Callable[[], float] = time.time


DEFAULT_TOOLS = RoutingTools()
ROUTING_TOOLS = web.AppKey("routing_tools", RoutingTools)


def tools_of(app: web.Application) -> RoutingTools:
    return app.get(ROUTING_TOOLS, DEFAULT_TOOLS)
