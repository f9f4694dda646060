"""The supervisor: the main process, which owns the listening sockets and forks workers.

* A worker that dies is restarted in its slot (:class:`RestartPolicy`: at once, then
  with backoff); if the workers cannot start at all, the supervisor stops and exits 1.
* SIGHUP reloads: settings are parsed again from the same command line and
  environment (re-reading ``--api-keys-file``); a bad result is logged and the
  running workers keep serving. Otherwise a new generation of workers starts on the
  same sockets, and only once every one of them listens does the old generation stop
  accepting and drain. Both accept from the same sockets meanwhile, so no connection
  is refused or reset.
* SIGTERM/SIGINT stop: the supervisor closes its copies of the sockets (the port
  refuses new connections as soon as the workers stop accepting), the workers drain,
  and any worker still running ``KILL_GRACE_SECONDS`` after its drain deadline is
  killed.

The loop is synchronous (a selector over the signal wakeup socket and the workers'
readiness pipes): nothing asynchronous runs in the process that forks.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import os
import selectors
import signal
import socket
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..log import configure_logging
from ..observability.multiprocess import MetricsDirectory
from ..settings import Settings, SettingsError, parse_settings
from .restarts import RestartPolicy
from .sockets import close_all
from .worker import run_worker

log = logging.getLogger("gateway")

SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGCHLD)
# A worker still running this long after its drain deadline is killed.
KILL_GRACE_SECONDS = 5.0
# A reload's new workers must all listen within this time, or the reload is abandoned.
RELOAD_START_SECONDS = 60.0
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


@dataclass(eq=False)
class Worker:
    pid: int
    slot: int
    generation: int
    ready_fd: int
    started: float
    listening: bool = False
    stopping: bool = False  # sent SIGTERM on purpose: its exit is expected
    kill_at: float | None = None


class Supervisor:
    def __init__(
        self,
        argv: Sequence[str],
        environ: Mapping[str, str],
        settings: Settings,
        listeners: list[list[socket.socket]],
        metrics_sockets: Sequence[socket.socket] = (),
    ) -> None:
        self._argv, self._environ = list(argv), environ
        self._settings = settings
        self._listeners = listeners
        # --metrics-listen: every worker serves /metrics from these same sockets.
        self._metrics_sockets = list(metrics_sockets)
        self._metrics_dir: MetricsDirectory | None = None
        self._workers: dict[int, Worker] = {}  # every live worker, by pid
        self._current: dict[int, Worker | None] = {}  # the serving generation, by slot
        self._generation = 1
        self._restart_at: dict[int, float] = {}  # slot -> when to restart its worker
        self._policy = RestartPolicy()
        self._next: dict[int, Worker] | None = None  # a reload's generation, until it listens
        self._next_settings: Settings | None = None
        self._next_deadline = 0.0
        self._reload_again = False
        self._stopping = False
        self._exit_code = 0
        self._selector = selectors.DefaultSelector()

    def run(self) -> int:
        self._wake_read, wake_write = socket.socketpair()
        self._wake_write = wake_write
        for end in (self._wake_read, wake_write):
            end.setblocking(False)
        signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
        for signum in SIGNALS:
            signal.signal(signum, _wake_only)
        self._selector.register(self._wake_read, selectors.EVENT_READ, None)
        # Before the first fork: every worker writes its metrics to files there.
        self._metrics_dir = MetricsDirectory.prepare(os.environ)
        for slot in range(len(self._listeners)):
            self._current[slot] = self._spawn(slot, self._settings)
        while not (self._stopping and not self._workers):
            for key, _ in self._selector.select(self._seconds_to_next_timer()):
                if key.data is None:
                    for signum in self._wake_read.recv(256):
                        self._on_signal(signum)
                else:
                    self._on_ready_pipe(key.data)
            self._reap()
            self._run_timers()
        self._metrics_dir.close()
        log.info("stopped", extra={"fields": {"pid": os.getpid(), "code": self._exit_code}})
        return self._exit_code

    # -- workers --------------------------------------------------------------------

    def _spawn(self, slot: int, settings: Settings) -> Worker:
        ready_read, ready_write = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        # No signal may run our handler in the child before it resets them.
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
        pid = os.fork()
        if pid == 0:
            self._become_worker(slot, settings, ready_read, ready_write)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        os.close(ready_write)
        worker = Worker(pid, slot, self._generation, ready_read, time.monotonic())
        self._workers[pid] = worker
        self._selector.register(ready_read, selectors.EVENT_READ, worker)
        return worker

    def _become_worker(self, slot: int, settings: Settings, ready_read: int, ready_write: int) -> None:
        code = 1
        try:
            signal.set_wakeup_fd(-1)
            for signum in SIGNALS:
                signal.signal(signum, signal.SIG_DFL)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
            _drain_when_orphaned()
            self._selector.close()
            self._wake_read.close()
            self._wake_write.close()
            os.close(ready_read)
            for other, sockets in enumerate(self._listeners):
                if other != slot:
                    close_all([sockets])
            configure_logging(settings.log_level)
            code = run_worker(settings, self._listeners[slot], ready_write, self._metrics_sockets)
        except BaseException:
            log.exception("worker failed", extra={"fields": {"pid": os.getpid()}})
        finally:
            os._exit(code)

    def _on_ready_pipe(self, worker: Worker) -> None:
        listening = os.read(worker.ready_fd, 1) != b""
        self._close_ready_pipe(worker)
        if not listening:
            return  # it exited before listening; _reap tells why
        worker.listening = True
        if self._next is not None and all(w.listening for w in self._next.values()):
            self._finish_reload()

    def _close_ready_pipe(self, worker: Worker) -> None:
        if worker.ready_fd >= 0:
            self._selector.unregister(worker.ready_fd)
            os.close(worker.ready_fd)
            worker.ready_fd = -1

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            worker = self._workers.pop(pid, None)
            if worker is not None:
                self._metrics_dir.mark_dead(pid)  # its in-flight gauges stop counting
                self._close_ready_pipe(worker)
                self._on_exit(worker, os.waitstatus_to_exitcode(status))

    def _on_exit(self, worker: Worker, code: int) -> None:
        fields = {"pid": worker.pid, "slot": worker.slot, "generation": worker.generation, "code": code}
        if worker.stopping or self._stopping:
            log.info("worker exited", extra={"fields": fields})
            return
        if self._next is not None and self._next.get(worker.slot) is worker:
            self._abandon_reload(f"a new worker exited with code {code} before it listened")
            return
        self._current[worker.slot] = None
        delay = self._policy.after_death(worker.slot, time.monotonic() - worker.started, worker.listening)
        if delay is None:
            log.error("workers cannot start; stopping", extra={"fields": fields})
            self._exit_code = 1
            self._stop()
            return
        log.error("worker died; restarting it", extra={"fields": {**fields, "restart_in_s": delay}})
        self._restart_at[worker.slot] = time.monotonic() + delay

    def _retire(self, worker: Worker, settings: Settings, signum: int = signal.SIGTERM) -> None:
        """Ask ``worker`` to drain and exit: SIGTERM to stop, SIGUSR1 when a new
        generation serves its slot (it then also waits for its kept-alive connections)."""
        if not worker.stopping:
            worker.kill_at = time.monotonic() + settings.shutdown_timeout + KILL_GRACE_SECONDS
        worker.stopping = True
        os.kill(worker.pid, signum)

    # -- signals --------------------------------------------------------------------

    def _on_signal(self, signum: int) -> None:
        if signum in (signal.SIGTERM, signal.SIGINT):
            self._stop()
        elif signum == signal.SIGHUP:
            self._reload()

    def _stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        log.info("stopping", extra={"fields": {"pid": os.getpid(), "workers": len(self._workers)}})
        # Once the workers stop accepting, the port refuses: a load balancer moves on.
        close_all(self._listeners + [self._metrics_sockets])
        self._restart_at.clear()
        self._next = None
        for worker in self._workers.values():
            self._retire(worker, self._settings)  # retiring ones too: a stop is sooner

    def _reload(self) -> None:
        if self._stopping:
            return
        if self._next is not None:
            self._reload_again = True  # files may have changed again: reload once more after
            return
        try:
            settings = parse_settings(self._argv, self._environ)
        except SettingsError as exc:
            log.error("reload failed; the running workers keep serving", extra={"fields": {"error": str(exc)}})
            return
        # The sockets are bound once: where and how many is fixed until a restart.
        settings = dataclasses.replace(
            settings,
            host=self._settings.host,
            port=self._settings.port,
            workers=self._settings.workers,
            metrics_listen=self._settings.metrics_listen,
        )
        self._generation += 1
        log.info("reloading", extra={"fields": {"pid": os.getpid(), "generation": self._generation}})
        self._next_settings = settings
        self._next_deadline = time.monotonic() + RELOAD_START_SECONDS
        self._next = {slot: self._spawn(slot, settings) for slot in self._current}

    def _finish_reload(self) -> None:
        old = [worker for worker in self._current.values() if worker is not None]
        self._current = dict(self._next)
        self._settings = self._next_settings
        self._next = None
        self._restart_at.clear()  # slots waiting for a restart are served by the new generation
        for worker in old:
            self._retire(worker, self._settings, signal.SIGUSR1)
        log.info(
            "reloaded",
            extra={
                "fields": {
                    "generation": self._generation,
                    "pids": [worker.pid for worker in self._current.values()],
                    "draining": [worker.pid for worker in old],
                }
            },
        )
        if self._reload_again:
            self._reload_again = False
            self._reload()

    def _abandon_reload(self, reason: str) -> None:
        for worker in self._next.values():
            if worker.pid in self._workers and not worker.stopping:
                self._retire(worker, self._next_settings)
        self._next = None
        self._reload_again = False
        log.error("reload failed; the running workers keep serving", extra={"fields": {"error": reason}})

    # -- timers ---------------------------------------------------------------------

    def _timers(self) -> list[float]:
        timers = list(self._restart_at.values())
        timers += [worker.kill_at for worker in self._workers.values() if worker.kill_at is not None]
        if self._next is not None:
            timers.append(self._next_deadline)
        return timers

    def _seconds_to_next_timer(self) -> float | None:
        timers = self._timers()
        return max(0.0, min(timers) - time.monotonic()) if timers else None

    def _run_timers(self) -> None:
        now = time.monotonic()
        for slot, when in list(self._restart_at.items()):
            if when <= now:
                del self._restart_at[slot]
                self._current[slot] = self._spawn(slot, self._settings)
        for worker in list(self._workers.values()):
            if worker.kill_at is not None and worker.kill_at <= now:
                log.warning("worker did not stop in time; killing it", extra={"fields": {"pid": worker.pid}})
                worker.kill_at = None
                os.kill(worker.pid, signal.SIGKILL)
        if self._next is not None and self._next_deadline <= now:
            self._abandon_reload(f"the new workers did not listen within {RELOAD_START_SECONDS:g} s")


def _drain_when_orphaned() -> None:
    """Linux: a worker whose supervisor dies (SIGKILL, OOM) gets SIGTERM and drains,
    rather than keep the port with nobody to restart or reload it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() == 1:  # the supervisor died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _wake_only(signum, frame) -> None:
    """The signal's number reaches the loop through the wakeup socket; nothing to do here."""
