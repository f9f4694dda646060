"""Logging as one JSON object a line (journald- and log-shipper-friendly)."""

from __future__ import annotations

import logging
import sys
import time

import orjson


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
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


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # The access line is ours (gateway.access); aiohttp's own would repeat it.
    logging.getLogger("aiohttp.access").disabled = True
    # botocore's signer logs each canonical request at DEBUG, and a canonical request
    # holds the x-amz-security-token: never let a debug level put credentials in logs.
    logging.getLogger("botocore").setLevel(max(root.level, logging.INFO))
