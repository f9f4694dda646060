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
