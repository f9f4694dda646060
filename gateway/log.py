"""Logging as one JSON object a line (journald- and log-shipper-friendly)."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import threading
import time

import orjson

_pid = os.getpid()


def _forked() -> None:
    global _pid
    _pid = os.getpid()


os.register_at_fork(after_in_child=_forked)


def process_id() -> int:
    """``os.getpid()`` without its system call (one per access line), right after a fork too."""
    return _pid


# The timestamp's whole seconds, formatted once per second rather than once a line.
_second: tuple[int, str] = (-1, "")


def timestamp(created: float) -> str:
    """``created`` (``time.time()``) as the lines' ``ts``: UTC, to the millisecond."""
    global _second
    second = int(created)
    cached, prefix = _second
    if cached != second:
        prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
        _second = (second, prefix)
    return f"{prefix}.{int((created - second) * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if fields:
            entry.update(fields)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


# Access lines wait at most this long to be written, in one write with the others
# of that time: under load one system call carries tens of lines (a write per line, or
# per event-loop turn, cost about 2 us a request); when idle a line is out in 20 ms.
LINE_BATCH_SECONDS = 0.02
# ... or until this many bytes are waiting (bounded memory at any rate).
LINE_BATCH_BYTES = 64 * 1024


class JsonLineHandler(logging.StreamHandler):
    """``configure_logging``'s handler: every record as a JSON line, and the access
    lines (:func:`write_info_line`) without a record, batched.

    An access line is one ``orjson.dumps`` appended to the ``pending`` bytes (a buffer,
    not a list of lines: with tens of orjson's results alive at once each new one
    costs several times more, allocation churn); the batch is written
    :data:`LINE_BATCH_SECONDS` after its first line (or once it holds
    :data:`LINE_BATCH_BYTES`), before any record this handler writes (lines stay in
    order), and when the handler is flushed (logging.shutdown, and the worker's exit,
    which passes no ``atexit``). A process killed outright (SIGKILL) loses at most that
    last batch.
    """

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.pending = bytearray()
        self._scheduled: asyncio.TimerHandle | None = None
        self._timer_loop: asyncio.AbstractEventLoop | None = None
        self._lines_thread = threading.get_ident()
        # Bytes go to the binary layer under a text stream (stderr); the text layer
        # holds nothing then, since every record is flushed once written.
        self._binary = getattr(stream, "buffer", None)

    def add_line(self, line: bytes) -> None:
        pending = self.pending
        pending += line
        if self._scheduled is not None:
            # A loop closed with its timer pending (a script's, a test's) never runs it.
            if len(pending) >= LINE_BATCH_BYTES or self._timer_loop.is_closed():
                self.write_pending()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script, a test): at once
            self.write_pending()
            return
        self._scheduled = loop.call_later(LINE_BATCH_SECONDS, self.write_pending)
        self._timer_loop = loop
        self._lines_thread = threading.get_ident()

    def write_pending(self) -> None:
        if self._scheduled is not None:
            self._scheduled.cancel()  # a no-op when it is the timer running this
            self._scheduled = None
        if not self.pending:
            return
        with self.lock:  # a record may be written from another thread meanwhile
            data = bytes(self.pending)
            self.pending.clear()
            try:
                if self._binary is not None:
                    self._binary.write(data)
                    self._binary.flush()
                else:
                    self.stream.write(data.decode())
                    self.stream.flush()
            except (OSError, ValueError):
                pass  # stderr closed (journald gone): like logging, never fail a request for it

    def emit(self, record: logging.LogRecord) -> None:
        # Lines are added by the event loop's thread: only it writes them out here (a
        # record from another thread must not take the buffer from under add_line).
        if self.pending and threading.get_ident() == self._lines_thread:
            self.write_pending()
        super().emit(record)

    def flush(self) -> None:
        if self.pending:
            self.write_pending()
        super().flush()


_root = logging.getLogger()


def write_info_line(logger: logging.Logger, msg: str, fields: dict) -> None:
    """Log ``msg`` with ``fields`` at INFO on ``logger``, once it is enabled for INFO.

    Where ``configure_logging``'s handler is the only one the line would reach (the
    gateway's processes), the line is written by that handler without a LogRecord
    (about 2 us instead of 7); anywhere else (pytest's capture, an operator's handler)
    it is an ordinary record.
    """
    handlers = _root.handlers
    parent = logger.parent
    if (
        len(handlers) == 1
        and type(handler := handlers[0]) is JsonLineHandler
        and not logger.handlers
        and (parent is _root or not parent.handlers)
    ):
        entry = {"ts": timestamp(time.time()), "level": "info", "logger": logger.name, "msg": msg}
        entry.update(fields)
        handler.add_line(orjson.dumps(entry, default=str, option=orjson.OPT_APPEND_NEWLINE))
    else:
        logger.info(msg, extra={"fields": fields})


def flush_logs() -> None:
    """Write what the handlers hold (the worker calls this before ``os._exit``)."""
    for handler in _root.handlers:
        handler.flush()


def configure_logging(level: str, stream=None) -> None:
    """One JSON line a record to ``stream`` (stderr; a benchmark gives /dev/null)."""
    handler = JsonLineHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Nothing here prints a record's caller, thread or process (the access line has its
    # own pid): skip working them out for every record (the logging HOWTO's "Optimization").
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    # The access line is ours (gateway.access); aiohttp's own would repeat it.
    logging.getLogger("aiohttp.access").disabled = True
    # botocore's signer logs each canonical request at DEBUG, and a canonical request
    # holds the x-amz-security-token: never let a debug level put credentials in logs.
    logging.getLogger("botocore").setLevel(max(root.level, logging.INFO))
