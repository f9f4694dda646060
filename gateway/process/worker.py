"""One worker: the aiohttp app served on sockets inherited from the supervisor.

SIGTERM (or SIGINT) stops the worker, SIGUSR1 retires it (a reload replaced it); both
start the drain, which fits in ``--shutdown-timeout`` as a whole:

1. stop accepting (close this worker's copy of the listening sockets; the sockets
   stay open in the supervisor, so connections queued on them reach the next
   generation instead of being reset), and answer ``/ready`` with 503;
2. let in-flight requests finish, answering any new request that arrives on a
   kept-alive connection with ``Connection: close``. A retiring worker also waits
   for its idle kept-alive connections to be used once more (and closed) or closed
   by their clients: closing one while its client sends a request on it would fail
   that request, and the next generation is already serving;
3. shortly before the deadline, cut what is left: streams end with a
   ``gateway_shutdown`` error, requests still waiting for their upstream get a 503;
4. close the connections and the app's clients, and exit.

aiohttp's own ``run_app`` waits up to the timeout for handlers, then cancels only the
request's body reader and waits up to the timeout again for the handler, which a
relay does not notice: a never-ending stream held the process for twice the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Sequence

from aiohttp import web

from ..app import create_app
from ..log import flush_logs
from ..middlewares.drain import IN_FLIGHT
from ..observability import METRICS, metrics_app
from ..serving import make_runner
from ..settings import Settings

log = logging.getLogger("gateway")

# aiohttp's default of 128 overflows when many clients connect at once (1,000 streams
# opening within a second): the kernel drops the SYNs and they come back only after a
# 1 s, 3 s, 7 s retransmit. The kernel caps this at net.core.somaxconn.
LISTEN_BACKLOG = 4096

# Part of --shutdown-timeout kept for cutting streams and closing (at most 1 s).
CUT_SHARE, MAX_CUT_SECONDS = 0.2, 1.0
# How often a drain looks whether its requests (and connections) are done.
DRAIN_POLL_SECONDS = 0.02
# Ending the cut streams, then closing, each get at least this (--shutdown-timeout 0).
MIN_STEP_SECONDS = 0.1


class StopRequest:
    """What the supervisor asked for: stop (SIGTERM/SIGINT) or retire (SIGUSR1)."""

    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.retiring = False

    def stop(self) -> None:
        self.retiring = False  # a stop during a retirement closes idle connections too
        self.requested.set()

    def retire(self) -> None:
        if not self.requested.is_set():
            self.retiring = True
            self.requested.set()


def _make_runner(app: web.Application, settings: Settings) -> web.AppRunner:
    """The runner: JSON parser errors and header limits (``serving.make_runner``).

    The drain below bounds the handlers itself; the runner's own shutdown_timeout only
    bounds closing the connections that remain once it is over.
    """
    return make_runner(app, settings, shutdown_timeout=0.5)


def run_worker(
    settings: Settings, sockets: list[socket.socket], ready_fd: int, metrics_sockets: Sequence[socket.socket] = ()
) -> int:
    """Serve until SIGTERM/SIGINT, drain, return the exit code."""
    loop = new_loop()
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(_serve(settings, sockets, ready_fd, metrics_sockets))
    finally:
        loop.close()
        flush_logs()  # the last access lines: the worker leaves by os._exit, without atexit


def new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _serve(
    settings: Settings, sockets: list[socket.socket], ready_fd: int, metrics_sockets: Sequence[socket.socket]
) -> int:
    loop = asyncio.get_running_loop()
    stop = StopRequest()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.stop)
    loop.add_signal_handler(signal.SIGUSR1, stop.retire)
    # Reloads are the supervisor's; a stray SIGHUP must not kill a worker.
    loop.add_signal_handler(signal.SIGHUP, lambda: None)
    app = create_app(settings)
    runner = _make_runner(app, settings)
    await runner.setup()
    sites = [web.SockSite(runner, sock, backlog=LISTEN_BACKLOG) for sock in sockets]
    for site in sites:
        await site.start()
    metrics_runner = await _serve_metrics(app, metrics_sockets)
    log.info(
        "listening",
        extra={"fields": {"url": f"http://{settings.host}:{settings.port}", "pid": os.getpid()}},
    )
    try:
        os.write(ready_fd, b"r")  # tells the supervisor this worker accepts connections
    except BrokenPipeError:
        pass  # the supervisor died just now: PR_SET_PDEATHSIG's SIGTERM drains this worker
    os.close(ready_fd)
    await stop.requested.wait()
    if metrics_runner is not None:
        await metrics_runner.cleanup()  # the other workers answer scrapes meanwhile
    await drain(runner, sites, settings.shutdown_timeout, stop)
    return 0


async def _serve_metrics(app: web.Application, sockets: Sequence[socket.socket]) -> web.AppRunner | None:
    """``--metrics-listen``: /metrics on the supervisor's socket, shared by every worker.

    Any worker may answer a scrape: each reads every worker's files (multiprocess
    mode), so the answer is the same whichever accepts the connection.
    """
    metrics = app[METRICS]
    if not sockets or not metrics.enabled:
        return None
    runner = web.AppRunner(metrics_app(metrics), access_log=None, handler_cancellation=True)
    await runner.setup()
    for sock in sockets:
        await web.SockSite(runner, sock, backlog=LISTEN_BACKLOG).start()
    return runner


async def drain(runner: web.AppRunner, sites: list[web.BaseSite], timeout: float, stop: StopRequest) -> None:
    loop = asyncio.get_running_loop()
    started = time.monotonic()
    deadline = loop.time() + timeout
    in_flight = runner.app[IN_FLIGHT]
    in_flight.draining = True
    for site in sites:
        await site.stop()
    fields = {"pid": os.getpid(), "in_flight": len(in_flight), "timeout_s": timeout, "retiring": stop.retiring}
    log.info("draining", extra={"fields": fields})
    cut_seconds = min(MAX_CUT_SECONDS, timeout * CUT_SHARE)
    cut = 0

    def done() -> bool:
        return not len(in_flight) and not (stop.retiring and runner.server.connections)

    if not await _poll(done, deadline - cut_seconds) and len(in_flight):
        cut = in_flight.cut()
        ended_by = max(deadline - cut_seconds / 2, loop.time() + MIN_STEP_SECONDS)
        if not await _poll(lambda: not len(in_flight), ended_by):
            in_flight.cancel_all()
    # Connections left (idle kept-alive ones) close now; the app's clients after them.
    await _within(runner.cleanup(), max(deadline, loop.time() + MIN_STEP_SECONDS))
    log.info(
        "drained",
        extra={"fields": {"pid": os.getpid(), "cut": cut, "duration_s": round(time.monotonic() - started, 3)}},
    )


async def _poll(done, until: float) -> bool:
    """Wait until ``done()`` or the loop's clock reaches ``until``; False if that came first."""
    loop = asyncio.get_running_loop()
    while not done():
        if loop.time() >= until:
            return False
        await asyncio.sleep(min(DRAIN_POLL_SECONDS, max(0.0, until - loop.time())))
    return True


async def _within(awaitable, when: float) -> bool:
    """Await until the loop's clock reaches ``when``; False if that came first."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout_at(max(when, asyncio.get_running_loop().time())):
            await awaitable
            return True
    return False
