"""A broken upstream's body, for the fakes' ``raw_stream`` knob: bytes that are not
the provider's format, written after a 200 and never ended by themselves."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web


async def write_raw(
    response: web.StreamResponse, chunks: list[bytes], every: float | None, released: asyncio.Event
) -> None:
    """Write ``chunks``, one write each; with ``every``, again and again that many
    seconds apart (an upstream that keeps talking nonsense), until ``released``."""
    while True:
        for chunk in chunks:
            await response.write(chunk)
        if every is None:
            break
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(released.wait(), every)  # the pace of the nonsense
        if released.is_set():
            break
    await released.wait()
    await response.write_eof()
