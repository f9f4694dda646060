"""A broken upstream's body, for the fakes' ``raw_stream`` knob: bytes that are not (or
stop being) the provider's format, written after a 200 and never ended by themselves."""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web


async def write_raw(
    response: web.StreamResponse,
    chunks: list[bytes],
    repeat: bytes | None,
    every: float,
    released: asyncio.Event,
) -> None:
    """Write ``chunks``, one write each; then ``repeat`` every ``every`` seconds (an
    upstream that keeps talking nonsense); end the body once ``released`` is set, or
    stop when the gateway hangs up."""
    try:
        for chunk in chunks:
            await response.write(chunk)
        while repeat is not None and not released.is_set():
            await response.write(repeat)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(released.wait(), every)  # the pace of the nonsense
        await released.wait()
        await response.write_eof()
    except ConnectionResetError:
        pass  # the gateway gave up on us and hung up: what the tests want of it
