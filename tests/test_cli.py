"""The real command line: exit codes, JSON logs, SO_REUSEPORT workers, graceful SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import orjson
import pytest

from tests.conftest import TEST_KEY


async def start_gateway(port: int, *args: str) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "--port", str(port), *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = asyncio.get_running_loop().time() + 30  # readiness probe: a loaded machine starts slowly
    async with aiohttp.ClientSession() as session:
        while asyncio.get_running_loop().time() < deadline:
            try:
                async with session.get(f"http://127.0.0.1:{port}/health") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientConnectionError:
                if process.returncode is not None:
                    break
                await asyncio.sleep(0.05)
    process.kill()
    _, stderr = await process.communicate()
    pytest.fail(f"gateway did not start: {stderr.decode()}")


async def test_bad_setting_exits_2_with_one_line():
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "--port", "0", stderr=asyncio.subprocess.PIPE
    )
    _, stderr = await process.communicate()
    assert process.returncode == 2
    assert stderr.decode() == "gateway: --port: must be 1-65535, got 0\n"


async def test_sigterm_lets_an_inflight_stream_finish(fake_openai, unused_tcp_port):
    process = await start_gateway(unused_tcp_port, "--shutdown-timeout", "20")
    fake_openai.gate = asyncio.Event()
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}
    body = {"model": "m", "messages": [{"role": "user", "content": "drain me"}], "stream": True}
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{unused_tcp_port}/v1/chat/completions", json=body, headers=headers) as response:
            await response.content.readuntil(b"\n\n")
            await fake_openai.first_chunk_sent.wait()
            process.send_signal(signal.SIGTERM)
            fake_openai.gate.set()
            rest = await response.read()
    assert rest.endswith(b"data: [DONE]\n\n")
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0
    lines = [orjson.loads(line) for line in stderr.decode().splitlines()]
    access = [line for line in lines if line["logger"] == "gateway.access"]
    assert access[-1]["status"] == 200 and access[-1]["provider"] == "openai"
    assert access[-1]["path"] == "/v1/chat/completions" and access[-1]["duration_ms"] > 0
    assert TEST_KEY not in stderr.decode()


async def test_workers_share_the_port_and_stop_on_sigterm(unused_tcp_port):
    process = await start_gateway(unused_tcp_port, "--workers", "2")
    # The first worker up answers the probe; wait until both have answered (each new
    # connection goes to either), else a slow second worker gets SIGTERM before it listens.
    answered: set[int] = set()
    deadline = asyncio.get_running_loop().time() + 30
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        while len(answered) < 2 and asyncio.get_running_loop().time() < deadline:
            async with session.get(f"http://127.0.0.1:{unused_tcp_port}/ready") as response:
                assert response.status == 200
                answered.add((await response.json())["pid"])
    assert len(answered) == 2, answered
    process.send_signal(signal.SIGTERM)
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode == 0
    pids = {orjson.loads(line).get("pid") for line in stderr.decode().splitlines() if '"listening"' in line}
    assert len(pids) == 2
