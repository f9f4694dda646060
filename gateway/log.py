"""Logging as one JSON object a line (journald- and log-shipper-friendly)."""

from __future__ import annotations

import logging
import os
import sys
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


class FieldsRecord(logging.LogRecord):
    """An INFO record of a message and its ``fields``, for a line logged once a request.

    Built without ``LogRecord.__init__``'s work for arguments, file names, threads and
    processes: the attributes it would set are those of a record whose caller, thread
    and process are not looked up (``configure_logging`` turns those off), copied in
    one step (formatters read a record's ``__dict__``). Handlers, filters and
    formatters (pytest's caplog too) see a LogRecord. Hand it to ``logger.handle``
    once ``logger.isEnabledFor(logging.INFO)``.
    """

    _UNLOOKED: dict = {
        "args": (),
        "levelno": logging.INFO,
        "levelname": logging.getLevelName(logging.INFO),
        "pathname": "(unknown file)",
        "filename": "(unknown file)",
        "module": "Unknown module",
        "lineno": 0,
        "funcName": None,
        "exc_info": None,
        "exc_text": None,
        "stack_info": None,
        "thread": None,
        "threadName": None,
        "processName": None,
        "process": None,
        "taskName": None,
    }

    def __init__(self, name: str, msg: str, fields: dict) -> None:  # not super().__init__: that is the point
        self.__dict__.update(self._UNLOOKED)
        self.name = name
        self.msg = msg
        self.fields = fields
        self.created = created = time.time()
        self.msecs = int((created - int(created)) * 1000) + 0.0
        self.relativeCreated = (created - logging._startTime) * 1000


class JsonFormatter(logging.Formatter):
    # The timestamp's whole seconds, formatted once per second rather than once a line.
    _second: tuple[int, str] = (-1, "")

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        cached, prefix = self._second
        if cached != second:
            prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))
            self._second = (second, prefix)
        entry = {
            "ts": f"{prefix}.{int(record.msecs):03d}Z",
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


def configure_logging(level: str, stream=None) -> None:
    """One JSON line a record to ``stream`` (stderr; a benchmark gives /dev/null)."""
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
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
