"""The access line written without a LogRecord (gateway.log.write_info_line): the same
line a record would give, written in batches (a short time, or a size), in order with records."""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging

import orjson

import gateway.log
from gateway.log import JsonFormatter, JsonLineHandler, flush_logs, write_info_line

FIELDS = {"trace_id": "ab" * 16, "status": 200, "usage": {"input": 3, "output": 5}, "attempts": [{"ms": 1.5}]}


@contextlib.contextmanager
def only_handler(others: bool = False):
    """configure_logging's handler as the root's only one: pytest's own (added for
    each test's call) taken off meanwhile."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    out = io.BytesIO()
    handler = JsonLineHandler(io.TextIOWrapper(out, write_through=True))
    handler.setFormatter(JsonFormatter())
    root.handlers[:] = [handler, *(saved[0] if others else ())]
    root.setLevel(logging.INFO)
    try:
        yield handler, out
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def lines(out: io.BytesIO) -> list[dict]:
    return [orjson.loads(line) for line in out.getvalue().splitlines()]


async def test_the_line_is_the_one_a_record_gives():
    with only_handler() as (handler, out):
        write_info_line(logging.getLogger("gateway.access"), "request", FIELDS)
        assert out.getvalue() == b""  # no record went through the formatter
        flush_logs()
    [line] = lines(out)
    record = logging.LogRecord("gateway.access", logging.INFO, "", 0, "request", (), None)
    record.fields = FIELDS
    expected = orjson.loads(JsonFormatter().format(record))
    assert line.pop("ts")[:17] == expected.pop("ts")[:17]  # to the minute: written a moment apart
    assert line == expected


async def test_lines_are_written_together_after_a_moment_and_before_a_record(monkeypatch):
    monkeypatch.setattr(gateway.log, "LINE_BATCH_SECONDS", 0.01)
    access = logging.getLogger("gateway.access")
    with only_handler() as (handler, out):
        write_info_line(access, "request", {"n": 1})
        await asyncio.sleep(0)  # a loop turn: still held, for the lines of the next moment
        write_info_line(access, "request", {"n": 2})
        assert out.getvalue() == b""
        written = await written_within(out, seconds=5)  # the batch's timer, not a flush
        assert [line["n"] for line in written] == [1, 2]
        write_info_line(access, "request", {"n": 3})
        logging.getLogger("gateway").warning("after the third line")
    assert [line.get("n", line["msg"]) for line in lines(out)] == [1, 2, 3, "after the third line"]


async def test_a_full_batch_is_written_at_once(monkeypatch):
    monkeypatch.setattr(gateway.log, "LINE_BATCH_BYTES", 100)
    access = logging.getLogger("gateway.access")
    with only_handler() as (handler, out):
        write_info_line(access, "request", {"n": 1})
        assert out.getvalue() == b""
        write_info_line(access, "request", {"n": 2, "padding": "x" * 100})
        assert [line["n"] for line in lines(out)] == [1, 2]  # no loop turn, no timer


def test_a_line_left_by_a_closed_loop_goes_out_with_the_next():
    # A loop that closes with the batch's timer pending never runs it: the next line
    # (from any loop) must not wait behind a timer that will never fire.
    access = logging.getLogger("gateway.access")
    with only_handler() as (handler, out):
        first = asyncio.new_event_loop()
        first.run_until_complete(_line(access, 1))
        first.close()
        assert out.getvalue() == b""
        second = asyncio.new_event_loop()
        second.run_until_complete(_line(access, 2))
        second.close()
        assert [line["n"] for line in lines(out)] == [1, 2]


async def _line(access: logging.Logger, n: int) -> None:
    write_info_line(access, "request", {"n": n})


async def written_within(out: io.BytesIO, seconds: float) -> list[dict]:
    deadline = asyncio.get_running_loop().time() + seconds
    while not out.getvalue() and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.005)
    return lines(out)


async def test_another_handler_gets_a_record(caplog):
    # pytest's capture (or an operator's handler) on the root: an ordinary record.
    caplog.set_level(logging.INFO, logger="gateway")
    with only_handler(others=True) as (handler, out):
        write_info_line(logging.getLogger("gateway.access"), "request", FIELDS)
    assert orjson.loads(out.getvalue())["trace_id"] == FIELDS["trace_id"]  # ours too, as a record
    [record] = [r for r in caplog.records if r.name == "gateway.access"]
    assert record.fields == FIELDS and record.getMessage() == "request"
