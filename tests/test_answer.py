"""ClientAnswer.close(): an answer read to its end leaves its connection in the pool
(the next request reuses it); one with bytes left is cut, at once (the upstream sees
the hang-up), so that no later request reads the rest of somebody else's answer.
The upstream here records the client port of each request.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web
from yarl import URL

from gateway.errors import GatewayError
from gateway.providers.base import UpstreamRequest
from gateway.upstream import ClientAnswer, open_upstream


@pytest.fixture
async def upstream(aiohttp_server):
    ports: list[int] = []
    release = asyncio.Event()
    hung_up = asyncio.Event()

    async def small(request: web.Request) -> web.Response:
        ports.append(request.transport.get_extra_info("peername")[1])
        return web.json_response({"ok": True})

    async def large(request: web.Request) -> web.StreamResponse:
        ports.append(request.transport.get_extra_info("peername")[1])
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = 2 * 65536
        await response.prepare(request)
        await response.write(b"a" * 65536)
        try:
            await release.wait()  # the rest only once the test lets it go
        except asyncio.CancelledError:
            hung_up.set()  # aiohttp cancels the handler when its client hangs up
            raise
        await response.write(b"b" * 65536)
        return response

    app = web.Application()
    app.router.add_get("/small", small)
    app.router.add_get("/large", large)
    server = await aiohttp_server(app)  # test servers cancel a handler whose client hung up
    async with aiohttp.ClientSession() as session:
        yield server, session, ports, hung_up
        release.set()


async def fetch(server, session, path: str) -> ClientAnswer:
    request = UpstreamRequest("GET", URL(str(server.make_url(path))))
    return await open_upstream(session, request, timeout_s=5, timeout_error=lambda: GatewayError("timed out"))


async def test_an_answer_read_to_its_end_pools_its_connection(upstream):
    server, session, ports, _ = upstream
    async with await fetch(server, session, "/small") as answer:
        assert answer.ended and answer.first_chunk == b'{"ok": true}'
    async with await fetch(server, session, "/small"):
        pass
    assert ports[0] == ports[1]  # the same connection, reused


async def test_an_answer_with_bytes_left_is_cut(upstream):
    server, session, ports, hung_up = upstream
    async with await fetch(server, session, "/large") as answer:
        assert not answer.ended  # half of it has not even been sent
    async with asyncio.timeout(5):  # a connection left open would never tell the upstream
        await hung_up.wait()
    async with await fetch(server, session, "/small"):
        pass
    assert ports[0] != ports[1]  # a new connection: the cut one never went back to the pool
