"""SIGTERM: a drain bounded by --shutdown-timeout as a whole; what it does to open requests."""

from __future__ import annotations

import asyncio
import signal
import time

import aiohttp
import orjson
import pytest

from tests.conftest import TEST_KEY
from tests.gateway_process import GatewayProcess, msg

CHAT = {"model": "m", "messages": [{"role": "user", "content": "never ends"}], "stream": True}


@pytest.fixture
def upstream_headers(fake_openai) -> dict[str, str]:
    return {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}


@pytest.fixture
async def start(unused_tcp_port):
    started = []

    async def start(*args: str) -> GatewayProcess:
        started.append(await GatewayProcess.start(unused_tcp_port, *args))
        return started[-1]

    yield start
    for gateway in started:
        await gateway.close()


async def test_a_never_ending_stream_is_cut_with_an_error_event_within_the_timeout(
    start, fake_openai, upstream_headers
):
    # aiohttp's run_app waited the timeout for handlers, then as long again: 12 s here.
    gateway = await start("--shutdown-timeout", "6")
    fake_openai.gate = asyncio.Event()  # never set: the stream would never end
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=upstream_headers) as response:
                await response.content.readuntil(b"\n\n")
                await fake_openai.first_chunk_sent.wait()
                signalled = time.monotonic()
                gateway.signal(signal.SIGTERM)
                rest = await response.read()
        code = await gateway.exit_code()
        took = time.monotonic() - signalled
    finally:
        fake_openai.gate.set()
    print(f"shutdown with --shutdown-timeout 6 took {took:.2f} s")
    assert code == 0
    assert took < 10  # bounded by the timeout (6 s), not twice it
    last_event = rest.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
    assert last_event.startswith(b"event: error\ndata: ")
    error = orjson.loads(last_event.split(b"data: ", 1)[1])["error"]
    assert error["code"] == "gateway_shutdown" and error["type"] == "api_error"
    assert b"[DONE]" not in rest
    [access] = [line for line in gateway.lines if line.get("logger") == "gateway.access" and line["path"] != "/health"]
    assert access["status"] == 200 and access["ended"] == "shutdown" and access["stream_error"] == "gateway_shutdown"
    [draining] = gateway.logged("draining")
    assert draining["in_flight"] == 1 and draining["timeout_s"] == 6
    [drained] = gateway.logged("drained")
    assert drained["cut"] == 1 and drained["duration_s"] <= 6


async def test_a_streamed_body_that_is_not_sse_is_aborted_by_the_deadline(start, fake_openai, upstream_headers):
    gateway = await start("--shutdown-timeout", "1")
    fake_openai.gate = asyncio.Event()
    body = {"model": "tts-1", "input": "hello", "voice": "alloy"}
    try:
        async with aiohttp.ClientSession() as session:
            async with session.post(gateway.url + "/v1/audio/speech", json=body, headers=upstream_headers) as response:
                assert response.status == 200
                assert (await response.content.readany()).startswith(b"ID3")
                await fake_openai.first_chunk_sent.wait()
                gateway.signal(signal.SIGTERM)
                with pytest.raises(aiohttp.ClientPayloadError):
                    await response.read()
        assert await gateway.exit_code() == 0
    finally:
        fake_openai.gate.set()
    [access] = [line for line in gateway.lines if line.get("logger") == "gateway.access" and line["path"] != "/health"]
    assert access["ended"] == "shutdown" and access["status"] == 200


async def test_ready_turns_503_while_draining_and_kept_alive_connections_are_answered_then_closed(
    start, fake_openai, upstream_headers
):
    gateway = await start("--shutdown-timeout", "20")
    fake_openai.gate = asyncio.Event()
    # One connection, kept alive: opened before the drain, reused during it.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as kept_alive, aiohttp.ClientSession() as streams:
        async with kept_alive.get(gateway.url + "/ready") as response:
            assert response.status == 200 and (await response.json())["status"] == "ready"
        async with streams.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=upstream_headers) as stream:
            await stream.content.readuntil(b"\n\n")
            await fake_openai.first_chunk_sent.wait()
            gateway.signal(signal.SIGTERM)
            await gateway.wait_for_log(msg("draining"))
            # The port itself is closed: a new connection is refused (nginx tries elsewhere).
            with pytest.raises(aiohttp.ClientConnectorError):
                await streams.get(gateway.url + "/ready")
            async with kept_alive.get(gateway.url + "/ready") as response:
                assert response.status == 503
                assert response.headers["Connection"] == "close"
                assert (await response.json())["error"]["code"] == "draining"
            fake_openai.gate.set()
            assert (await stream.read()).endswith(b"data: [DONE]\n\n")
    assert await gateway.exit_code() == 0
    [drained] = gateway.logged("drained")
    assert drained["cut"] == 0
