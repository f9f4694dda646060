"""The supervisor's side of metrics across workers (prometheus-client multiprocess mode).

Before the first fork the supervisor points ``PROMETHEUS_MULTIPROC_DIR`` at an empty
directory (the operator's, emptied, or a fresh temporary one it removes at exit);
every worker inherits it and writes its values to files of its own there, which a
scrape adds up. When a worker exits the supervisor marks it dead, so its live gauges
(requests in flight) stop counting, while its counters and histograms stay: totals
survive worker restarts and reloads, and restart from zero only with the supervisor.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import MutableMapping
from pathlib import Path

log = logging.getLogger("gateway")

ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsDirectory:
    def __init__(self, path: Path, owned: bool) -> None:
        self.path = path
        self._owned = owned

    @classmethod
    def prepare(cls, environ: MutableMapping[str, str]) -> MetricsDirectory:
        """Set ``environ[ENV]`` to an empty directory; call before forking workers."""
        given = environ.get(ENV)
        if given:
            path = Path(given)
            path.mkdir(parents=True, exist_ok=True)
            for stale in path.glob("*.db"):  # a previous run's values: counts start at 0
                stale.unlink()
            directory = cls(path, owned=False)
        else:
            directory = cls(Path(tempfile.mkdtemp(prefix="gateway-metrics-")), owned=True)
        environ[ENV] = str(directory.path)
        return directory

    def mark_dead(self, pid: int) -> None:
        """A worker exited: its live gauges no longer count."""
        from prometheus_client.multiprocess import mark_process_dead

        try:
            mark_process_dead(pid, str(self.path))
        except OSError as exc:
            log.warning("could not mark a worker's metrics dead", extra={"fields": {"pid": pid, "error": str(exc)}})

    def close(self) -> None:
        if self._owned:
            shutil.rmtree(self.path, ignore_errors=True)


def in_use(environ: MutableMapping[str, str] = os.environ) -> bool:
    return bool(environ.get(ENV))
