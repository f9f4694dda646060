"""A reload under load: clients see no refused connection and no failed request."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter

import aiohttp

from tests.conftest import TEST_KEY
from tests.gateway_process import GatewayProcess, msg

# Per client: the test stops by itself even if the reload never ends.
MAX_ROUNDS, MAX_PROBES = 400, 5000


def chat(stream: bool) -> dict:
    return {"model": "m", "messages": [{"role": "user", "content": "reload me"}], "stream": stream}


async def test_a_reload_under_load_drops_nothing_and_replaces_the_workers(unused_tcp_port, make_fake):
    held_upstream, upstream = await make_fake(), await make_fake()
    held_upstream.gate = asyncio.Event()

    def headers(fake) -> dict[str, str]:
        return {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake.url}

    gateway = await GatewayProcess.start(unused_tcp_port, "--workers", "2", "--shutdown-timeout", "30")
    done = Counter()
    # Workers that answered /ready before the reload and after the old ones drained.
    pids_seen: dict[str, set[int]] = {"before": set(), "during": set(), "after": set()}
    phase = "before"
    stop = asyncio.Event()
    progress = asyncio.Condition()

    async def more_rounds(count: int) -> None:
        target = done["ready"] + count
        async with progress:
            await progress.wait_for(lambda: done["ready"] >= target)

    async def client(session: aiohttp.ClientSession) -> int:
        rounds = 0
        while not stop.is_set() and rounds < MAX_ROUNDS:
            rounds += 1
            async with session.post(gateway.url + "/v1/chat/completions", json=chat(False), headers=headers(upstream)) as response:
                assert response.status == 200, await response.text()
                await response.json()
                done["request"] += 1
            async with session.post(gateway.url + "/v1/chat/completions", json=chat(True), headers=headers(upstream)) as response:
                assert response.status == 200
                assert (await response.read()).endswith(b"data: [DONE]\n\n")
                done["stream"] += 1
            async with session.get(gateway.url + "/ready") as response:
                if response.status == 200:  # a draining worker answers 503, by design
                    pids_seen[phase].add((await response.json())["pid"])
            async with progress:
                done["ready"] += 1
                done[f"rounds {phase} the reload"] += 1
                progress.notify_all()
        return rounds

    async def prober(session: aiohttp.ClientSession) -> int:
        """New connections as fast as they are answered: some wait in a socket's queue
        at the moment the old workers stop accepting."""
        rounds = 0
        while not stop.is_set() and rounds < MAX_PROBES:
            rounds += 1
            async with session.get(gateway.url + "/health") as response:
                assert response.status == 200
                done["probe"] += 1
        return rounds

    async def held_stream(session: aiohttp.ClientSession, opened: asyncio.Queue) -> None:
        async with session.post(gateway.url + "/v1/chat/completions", json=chat(True), headers=headers(held_upstream)) as response:
            await response.content.readuntil(b"\n\n")
            opened.put_nowait(None)
            assert (await response.read()).endswith(b"data: [DONE]\n\n")
            done["held stream"] += 1

    try:
        old_pids = {line["pid"] for line in await gateway.wait_for_log(msg("listening"), count=2)}
        async with (
            aiohttp.ClientSession() as kept_alive,
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as fresh_connections,
        ):
            opened: asyncio.Queue = asyncio.Queue()
            held = [asyncio.create_task(held_stream(fresh_connections, opened)) for _ in range(4)]
            for _ in held:
                await opened.get()  # every held stream is open on an old worker
            clients = [asyncio.create_task(client(session)) for session in (kept_alive, fresh_connections) * 4]
            probers = [asyncio.create_task(prober(fresh_connections)) for _ in range(8)]
            await more_rounds(8)  # traffic flows before the reload
            phase = "during"
            gateway.signal(signal.SIGHUP)
            [reloaded] = await gateway.wait_for_log(msg("reloaded"))
            held_upstream.gate.set()  # the old workers' streams may end now
            await asyncio.gather(*held)
            await gateway.wait_for_log(msg("drained"), count=2)
            phase = "after"
            await more_rounds(8)  # traffic after the old workers are gone
            stop.set()
            rounds = await asyncio.gather(*clients)
            probes = await asyncio.gather(*probers)
    finally:
        held_upstream.gate.set()
        await gateway.close()
    print(f"through one reload: {dict(done)}")
    assert max(rounds) < MAX_ROUNDS and max(probes) < MAX_PROBES
    assert done["held stream"] == 4
    new_pids = set(reloaded["pids"])
    assert set(reloaded["draining"]) == old_pids and not new_pids & old_pids
    assert pids_seen["before"] <= old_pids and pids_seen["after"] and pids_seen["after"] <= new_pids
    assert gateway.process.returncode == 0


async def test_a_retiring_worker_answers_its_kept_alive_connection_once_more(unused_tcp_port):
    """The old worker stops accepting but keeps its idle kept-alive connection until the
    client uses it (answered, with Connection: close) or closes it: closing it under a
    client that is sending a request would fail that request."""
    gateway = await GatewayProcess.start(unused_tcp_port, "--shutdown-timeout", "20")
    try:
        [listening] = await gateway.wait_for_log(msg("listening"))
        old = listening["pid"]

        def of_old(name: str):
            return lambda line: line.get("msg") == name and line.get("pid") == old

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as kept_alive:
            async with kept_alive.get(gateway.url + "/ready") as response:
                assert (await response.json())["pid"] == old
            gateway.signal(signal.SIGHUP)
            await gateway.wait_for_log(of_old("draining"))
            async with kept_alive.get(gateway.url + "/ready") as response:
                assert response.status == 503 and response.headers["Connection"] == "close"
                assert (await response.json())["error"]["code"] == "draining"
        [drained] = await gateway.wait_for_log(of_old("drained"))
        assert drained["cut"] == 0
    finally:
        await gateway.close()


async def test_a_stop_during_a_retirement_closes_the_idle_connections_at_once(unused_tcp_port):
    """systemctl stop while a reload's old worker waits for a kept-alive connection:
    the stop does not wait for that connection (up to --shutdown-timeout)."""
    gateway = await GatewayProcess.start(unused_tcp_port, "--shutdown-timeout", "30")
    try:
        [listening] = await gateway.wait_for_log(msg("listening"))
        old = listening["pid"]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1)) as kept_alive:
            async with kept_alive.get(gateway.url + "/ready") as response:
                assert (await response.json())["pid"] == old
            gateway.signal(signal.SIGHUP)
            await gateway.wait_for_log(lambda line: line.get("msg") == "draining" and line.get("pid") == old)
            gateway.signal(signal.SIGTERM)
            # Did not hang: the retiring worker waited the whole 30 s for the idle connection.
            assert await gateway.exit_code(timeout=15) == 0
    finally:
        await gateway.close()


async def test_a_sighup_during_a_reload_reloads_once_more(unused_tcp_port, tmp_path, fake_openai):
    keys = tmp_path / "keys"
    keys.write_text("gw-1\n")
    gateway = await GatewayProcess.start(unused_tcp_port, "--workers", "2", "--api-keys-file", str(keys))
    try:
        gateway.signal(signal.SIGHUP)
        await gateway.wait_for_log(lambda line: line.get("msg") == "reloading" and line.get("generation") == 2)
        keys.write_text("gw-2\n")  # changed again while the first reload starts its workers
        gateway.signal(signal.SIGHUP)
        await gateway.wait_for_log(lambda line: line.get("msg") == "reloaded" and line.get("generation") == 3)
        # Until the older workers stop accepting, they may take a new connection too.
        retired = {pid for line in gateway.logged("reloaded") for pid in line["draining"]}
        await gateway.wait_for_log(lambda line: line.get("msg") == "draining" and line.get("pid") in retired, count=len(retired))
        headers = {"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            for key, status in (("gw-2", 200), ("gw-1", 401)):
                for _ in range(4):  # new connections: whichever worker of the last generation
                    async with session.post(
                        gateway.url + "/v1/chat/completions", json=chat(False), headers={**headers, "x-portkey-api-key": key}
                    ) as response:
                        assert response.status == status, key
    finally:
        await gateway.close()
