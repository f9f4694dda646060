"""A client that hangs up mid-stream: the upstream call ends, and nothing is blamed on it."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web

from tests.conftest import TEST_KEY

CHUNK = b'data: {"object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"x"}}]}\n\n'


async def test_client_hanging_up_mid_stream_is_not_an_upstream_failure(gateway, aiohttp_server, caplog, request):
    caplog.set_level(logging.DEBUG, logger="gateway")
    upstream_gone = asyncio.Semaphore(0)
    access_lines = asyncio.Semaphore(0)
    counting = Counting(access_lines)
    logging.getLogger("gateway.access").addHandler(counting)
    request.addfinalizer(lambda: logging.getLogger("gateway.access").removeHandler(counting))

    async def endless_stream(request: web.Request) -> web.StreamResponse:
        # Chunks as fast as the gateway takes them, so that some write to the client
        # always races with the client's hang-up.
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            while True:
                await response.write(CHUNK)
        except (ConnectionError, asyncio.CancelledError):
            upstream_gone.release()
            raise

    app = web.Application()
    app.router.add_post("/v1/chat/completions", endless_stream)
    upstream = await aiohttp_server(app)
    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": str(upstream.make_url("/v1")),
        "Authorization": f"Bearer {TEST_KEY}",
    }
    body = {"model": "gpt-4o-mini", "messages": [], "stream": True}
    hang_ups = 20
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for _ in range(hang_ups):
            response = await session.post(gateway.make_url("/v1/chat/completions"), json=body, headers=headers)
            assert response.status == 200
            assert (await response.content.readany()).startswith(b"data: ")
            response.close()
    for _ in range(hang_ups):
        await asyncio.wait_for(upstream_gone.acquire(), 30)  # every upstream call was dropped
    blamed = [r for r in caplog.records if r.name == "gateway.relay" and r.levelno >= logging.WARNING]
    assert blamed == []
    # However the gateway learnt of it (its handler cancelled, or a write that failed),
    # each hang-up is logged as nginx does: 499, client closed the request.
    for _ in range(hang_ups):
        await asyncio.wait_for(access_lines.acquire(), 30)
    statuses = [r.fields["status"] for r in caplog.records if r.name == "gateway.access"]
    assert statuses == [499] * hang_ups


class Counting(logging.Handler):
    """Releases ``semaphore`` once per record: a test waits on lines being written."""

    def __init__(self, semaphore: asyncio.Semaphore) -> None:
        super().__init__()
        self.semaphore = semaphore

    def emit(self, record: logging.LogRecord) -> None:
        self.semaphore.release()
