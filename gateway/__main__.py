"""Command line: ``gateway`` / ``python -m gateway`` [options]; see ``--help``.

The main process is a supervisor (``gateway/process/``): it binds the listening
sockets, forks ``--workers`` worker processes that serve them, restarts a worker
that dies, replaces the workers on SIGHUP (reload) and drains them on SIGTERM.
"""

from __future__ import annotations

import os
import sys

from . import cli_admin
from .log import configure_logging
from .process import heap
from .process.sockets import ListenError, close_all, open_listeners
from .process.supervisor import Supervisor
from .process.worker import LISTEN_BACKLOG
from .settings import SettingsError, parse_settings
from .store.runtime import StartupError


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in cli_admin.COMMANDS:  # keys, virtual-keys, configs, rotate-master-key
        return cli_admin.main(argv)
    try:
        settings = parse_settings(argv, os.environ)
        cli_admin.preflight(settings)  # the store opens and its master key fits, or exit 2
    except (SettingsError, StartupError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    try:
        listeners = open_listeners(settings.host, settings.port, settings.workers, LISTEN_BACKLOG)
    except ListenError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 2
    metrics_sockets: list = []
    if settings.metrics and settings.metrics_listen is not None:
        try:
            # One socket every worker serves /metrics from (any worker's answer adds up all).
            metrics_sockets = open_listeners(*settings.metrics_listen, 1, LISTEN_BACKLOG)[0]
        except ListenError as exc:
            close_all(listeners)
            print(f"gateway: --metrics-listen: {exc}", file=sys.stderr)
            return 2
    configure_logging(settings.log_level)
    # Everything imported so far lives as long as the process: keep it out of the
    # collector's full passes and out of the workers' copy-on-write faults.
    heap.settle()
    return Supervisor(argv, os.environ, settings, listeners, metrics_sockets).run()


if __name__ == "__main__":
    sys.exit(main())
