"""The supervisor: busy port, a worker that dies, reloads on SIGHUP that drop nothing."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import sys

import aiohttp
import orjson
import pytest

from tests.conftest import TEST_KEY
from tests.gateway_process import GatewayProcess, msg


@pytest.fixture
async def start(unused_tcp_port):
    started = []

    async def start(*args: str) -> GatewayProcess:
        started.append(await GatewayProcess.start(unused_tcp_port, *args))
        return started[-1]

    yield start
    for gateway in started:
        await gateway.close()


async def test_a_busy_port_exits_2_with_one_line(unused_tcp_port):
    with socket.create_server(("127.0.0.1", unused_tcp_port)):
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--port", str(unused_tcp_port),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert stderr.decode() == f"gateway: cannot listen on 127.0.0.1:{unused_tcp_port}: Address already in use\n"
    assert stdout == b""


async def test_a_killed_worker_is_restarted_and_the_service_keeps_serving(start):
    gateway = await start("--workers", "2")
    first = await gateway.wait_for_log(msg("listening"), count=2)
    victim = first[0]["pid"]
    os.kill(victim, signal.SIGKILL)
    [died] = await gateway.wait_for_log(msg("worker died; restarting it"))
    assert died["pid"] == victim and died["code"] == -signal.SIGKILL and died["restart_in_s"] == 0
    replacement = (await gateway.wait_for_log(msg("listening"), count=3))[2]["pid"]
    assert replacement not in {line["pid"] for line in first}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
        for _ in range(20):
            async with session.get(gateway.url + "/health") as response:
                assert response.status == 200
    gateway.signal(signal.SIGTERM)
    assert await gateway.exit_code() == 0


async def test_sighup_rereads_the_keys_file_and_a_bad_one_keeps_the_old_workers(start, tmp_path, fake_openai):
    keys = tmp_path / "keys"
    keys.write_text("gw-old\n")
    gateway = await start("--api-keys-file", str(keys))
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}

    async def status_with(key: str) -> int:
        async with aiohttp.ClientSession() as session:
            async with session.post(
                gateway.url + "/v1/chat/completions", json=body, headers={**headers, "x-portkey-api-key": key}
            ) as response:
                return response.status

    keys.write_text("# nothing\n")
    gateway.signal(signal.SIGHUP)
    [failed] = await gateway.wait_for_log(msg("reload failed; the running workers keep serving"))
    assert "holds no keys" in failed["error"]
    assert await status_with("gw-old") == 200

    keys.write_text("gw-new\n")
    gateway.signal(signal.SIGHUP)
    [reloaded] = await gateway.wait_for_log(msg("reloaded"))
    # Until the old worker stops accepting, it may take a new connection too.
    await gateway.wait_for_log(lambda line: line.get("msg") == "draining" and line["pid"] in reloaded["draining"])
    assert await status_with("gw-new") == 200
    assert await status_with("gw-old") == 401
    gateway.signal(signal.SIGTERM)
    assert await gateway.exit_code() == 0


async def test_a_stray_sighup_to_a_worker_leaves_it_serving(start, fake_openai):
    """A hangup sent to the whole process group (a closed terminal, kill -HUP -PGID)
    reaches the workers too: reloads are the supervisor's, a worker carries on."""
    gateway = await start()
    [listening] = await gateway.wait_for_log(msg("listening"))
    worker = listening["pid"]
    fake_openai.gate = asyncio.Event()  # the stream pauses after its first word
    headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    async with aiohttp.ClientSession() as session:
        async with session.post(gateway.url + "/v1/chat/completions", json=body, headers=headers) as response:
            await response.content.readuntil(b"\n\n")
            os.kill(worker, signal.SIGHUP)
            fake_openai.gate.set()
            assert (await response.read()).endswith(b"data: [DONE]\n\n")
        async with session.get(gateway.url + "/ready") as response:
            assert (await response.json())["pid"] == worker
    assert gateway.logged("worker died; restarting it") == []


async def test_a_worker_that_does_not_stop_in_time_is_killed(start):
    gateway = await start("--shutdown-timeout", "0")
    [listening] = await gateway.wait_for_log(msg("listening"))
    worker = listening["pid"]
    os.kill(worker, signal.SIGSTOP)  # frozen: it cannot drain
    try:
        gateway.signal(signal.SIGTERM)
        # Killed KILL_GRACE_SECONDS (5 s) after its drain deadline, not left holding the service.
        [killed] = await gateway.wait_for_log(msg("worker did not stop in time; killing it"))
        assert killed["pid"] == worker
        assert await gateway.exit_code() == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(worker, signal.SIGKILL)  # never leave a stopped process behind


async def test_workers_that_can_never_start_stop_the_supervisor_with_exit_1(unused_tcp_port):
    # The real supervisor, with a worker that exits at once (as one failing at import would).
    script = (
        "import sys; import gateway.process.supervisor as supervisor; "
        "supervisor.run_worker = lambda *args: 3; "
        "from gateway.__main__ import main; sys.exit(main())"
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", script, "--port", str(unused_tcp_port), "--workers", "2",
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 60)
    lines = [orjson.loads(line) for line in stderr.splitlines()]
    assert process.returncode == 1
    restarts = [line for line in lines if line["msg"] == "worker died; restarting it"]
    assert [line["restart_in_s"] for line in restarts if line["slot"] == 0] == [0, 0.5, 1, 2]
    [gave_up] = [line for line in lines if line["msg"] == "workers cannot start; stopping"]
    assert gave_up["code"] == 3
    assert lines[-1]["msg"] == "stopped" and lines[-1]["code"] == 1


async def test_an_address_that_is_not_ours_exits_2_with_one_line(unused_tcp_port):
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "--host", "192.0.2.1", "--port", str(unused_tcp_port),
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert stderr.decode() == f"gateway: cannot listen on 192.0.2.1:{unused_tcp_port}: Cannot assign requested address\n"


async def test_workers_drain_and_exit_when_the_supervisor_is_killed(start):
    gateway = await start("--workers", "2")
    workers = [line["pid"] for line in await gateway.wait_for_log(msg("listening"), count=2)]
    exits = [os.pidfd_open(pid) for pid in workers]  # readable once that process has exited
    loop = asyncio.get_running_loop()
    gone = [loop.create_future() for _ in exits]

    def exited(fd: int, future: asyncio.Future) -> None:
        loop.remove_reader(fd)  # a pidfd stays readable
        future.set_result(None)

    for fd, future in zip(exits, gone, strict=True):
        loop.add_reader(fd, exited, fd, future)
    try:
        gateway.process.kill()
        await asyncio.wait_for(asyncio.gather(*gone), 30)
    finally:
        for fd in exits:
            loop.remove_reader(fd)
            os.close(fd)
    drained = await gateway.wait_for_log(msg("drained"), count=2)
    assert {line["pid"] for line in drained} == set(workers)
