"""Translated streams are judged on their first translated bytes, before any commit."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from gateway.errors import GatewayError
from gateway.routing.attempt import _first_output
from gateway.upstream import ClientAnswer


class Translator:
    """Emits nothing until it has seen ``quiet`` chunks; raises on a chunk with ``error``."""

    def __init__(self, quiet: int, fed_one: asyncio.Event) -> None:
        self.quiet = quiet
        self.fed: list[bytes] = []
        self.fed_one = fed_one

    def feed(self, data: bytes) -> bytes:
        self.fed.append(data)
        self.fed_one.set()  # the upstream may send its next part
        if b"error" in data:
            raise GatewayError("upstream overloaded", status=529, code="overloaded_error")
        return b"" if len(self.fed) <= self.quiet else b"out:" + data

    def close(self) -> bytes:
        return b""


@pytest.fixture
async def opened(aiohttp_server):
    """Open an answer sent in parts, each only once the translator has had the last."""
    sessions = []
    fed_one = asyncio.Event()

    async def make(parts: list[bytes]) -> ClientAnswer:
        async def handler(request):
            response = web.StreamResponse()
            await response.prepare(request)
            for part in parts:
                await response.write(part)
                await fed_one.wait()
                fed_one.clear()
            await response.write_eof()
            return response

        app = web.Application()
        app.router.add_get("/", handler)
        server = await aiohttp_server(app)
        session = aiohttp.ClientSession()
        sessions.append(session)
        response = await session.get(server.make_url("/"))
        return ClientAnswer(response, await response.content.readany()), fed_one

    yield make
    for session in sessions:
        await session.close()


async def test_reads_on_until_the_translator_has_output(opened):
    answer, fed_one = await opened([b"a", b"b", b"c"])
    translator = Translator(1, fed_one)
    out = await _first_output(answer, translator, idle_s=5)
    assert out == (b"out:b", False)
    assert translator.fed == [b"a", b"b"]
    answer.close()


async def test_an_error_in_the_first_events_is_raised_before_commit(opened):
    answer, fed_one = await opened([b"start", b"error frame", b"more"])
    with pytest.raises(GatewayError) as caught:
        await _first_output(answer, Translator(5, fed_one), idle_s=5)
    assert caught.value.status == 529
    answer.close()


async def test_an_answer_that_ends_without_output_is_closed_and_says_so(opened):
    answer, fed_one = await opened([b"x"])
    assert await _first_output(answer, Translator(5, fed_one), idle_s=5) == (b"", True)
    answer.close()
