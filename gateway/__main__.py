"""Command line: ``gateway`` / ``python -m gateway`` [options]; see ``--help``.

With ``--workers N`` the parent forks N processes that share the port through
SO_REUSEPORT (the kernel spreads connections over them), forwards SIGTERM/SIGINT to
them, and exits non-zero if one dies unexpectedly so that systemd restarts the lot.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import multiprocessing
import os
import signal
import sys

from aiohttp import web

from . import cli_admin
from .app import create_app
from .log import configure_logging
from .settings import Settings, SettingsError, parse_settings
from .store.runtime import StartupError

log = logging.getLogger("gateway")

# aiohttp's default of 128 overflows when many clients connect at once (1,000 streams
# opening within a second): the kernel drops the SYNs and they come back only after a
# 1 s, 3 s, 7 s retransmit. The kernel caps this at net.core.somaxconn.
LISTEN_BACKLOG = 4096


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args and args[0] in cli_admin.COMMANDS:  # keys, virtual-keys, configs, rotate-master-key
        return cli_admin.main(args)
    try:
        settings = parse_settings(args, os.environ)
        cli_admin.preflight(settings)  # the store opens and its master key fits, or exit 2
    except (SettingsError, StartupError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    # Everything imported so far lives as long as the process: keep it out of the
    # collector's full passes (and, with --workers, out of copy-on-write faults).
    gc.freeze()
    if settings.workers == 1:
        serve(settings)
        return 0
    return _supervise(settings)


def serve(settings: Settings) -> None:
    """Run one server process until SIGTERM/SIGINT, then drain in-flight requests."""
    log.info(
        "listening",
        extra={"fields": {"url": f"http://{settings.host}:{settings.port}", "pid": os.getpid()}},
    )
    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        reuse_port=settings.workers > 1,
        backlog=LISTEN_BACKLOG,
        shutdown_timeout=settings.shutdown_timeout,
        handler_cancellation=True,  # a client that hangs up cancels its upstream call
        access_log=None,
        print=None,
        loop=_new_loop(),
    )


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def _supervise(settings: Settings) -> int:
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=serve, args=(settings,), daemon=False) for _ in range(settings.workers)]
    stopping = False

    def stop(signum, _frame):
        nonlocal stopping
        stopping = True
        for worker in workers:
            if worker.pid is not None and worker.is_alive():
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for worker in workers:
        worker.start()
    status = 0
    while any(worker.is_alive() for worker in workers):
        for worker in workers:
            worker.join(timeout=0.5)
            if not worker.is_alive() and not stopping:
                log.error("worker exited unexpectedly", extra={"fields": {"pid": worker.pid, "code": worker.exitcode}})
                status = 1
                stop(signal.SIGTERM, None)
    return status


if __name__ == "__main__":
    sys.exit(main())
