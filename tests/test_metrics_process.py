"""Metrics across real worker processes: ``python -m gateway --workers 2``.

One scrape adds up every worker's counts; the counts survive workers killed and
restarted, and a SIGHUP reload; a killed worker's in-flight requests stop counting;
``--metrics-listen`` serves /metrics on its own address (and not on the API port).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import TEST_KEY
from tests.gateway_process import GatewayProcess, msg

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello there"}]}


async def scrape(url: str) -> dict[tuple, float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200, await response.text()
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape_until(url: str, condition, timeout: float = 10) -> dict[tuple, float]:
    """Scrape until ``condition(samples)``: each worker writes its counts to the shared
    files once a second (FLUSH_SECONDS), so another worker's may lag by that much."""
    async with asyncio.timeout(timeout):
        while True:
            samples = await scrape(url)
            if condition(samples):
                return samples
            await asyncio.sleep(0.05)


def in_flight(samples) -> float:
    return samples[("gateway_requests_in_flight", ())]


def ready_count(samples) -> float:
    labels = (("model", "none"), ("provider", "none"), ("route", "/ready"), ("status_class", "2xx"))
    return samples.get(("gateway_requests_total", labels), 0.0)


async def ready_until_both_workers_answered(url: str) -> tuple[int, set[int]]:
    """GET /ready on a new connection each time until two pids have answered."""
    pids: set[int] = set()
    count = 0
    while len(pids) < 2:
        assert count < 2000, "the kernel never gave the second worker a connection"
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with session.get(url + "/ready") as response:
                pids.add((await response.json())["pid"])
        count += 1
    return count, pids


@pytest.fixture
async def gateway_with_metrics_address(unused_tcp_port_factory):
    port, metrics_port = unused_tcp_port_factory(), unused_tcp_port_factory()
    gateway = await GatewayProcess.start(
        port, "--workers", "2", "--metrics-listen", f"127.0.0.1:{metrics_port}", "--shutdown-timeout", "1"
    )
    gateway.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    yield gateway
    await gateway.close()


async def test_counts_add_up_across_workers_and_survive_kills_and_reloads(gateway_with_metrics_address, fake_openai):
    gateway = gateway_with_metrics_address
    sent, pids = await ready_until_both_workers_answered(gateway.url)
    # Both workers' counts in one scrape (whichever worker answers it).
    samples = await scrape_until(gateway.metrics_url, lambda samples: ready_count(samples) >= sent)
    assert ready_count(samples) == sent

    # A request in flight when its worker is killed: its gauge must not stay up.
    fake_openai.hang = asyncio.Event()
    headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": fake_openai.url,
               "Authorization": f"Bearer {TEST_KEY}"}
    async with aiohttp.ClientSession() as session:
        hanging = asyncio.ensure_future(session.post(gateway.url + "/v1/chat/completions", json=CHAT, headers=headers))
        await fake_openai.request_seen.wait()
        await scrape_until(gateway.metrics_url, lambda samples: in_flight(samples) == 1)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        with pytest.raises(aiohttp.ClientError):
            await hanging
    await gateway.wait_for_log(msg("worker died; restarting it"), count=2)
    await gateway.wait_for_log(msg("listening"), count=4)
    samples = await scrape(gateway.metrics_url)
    assert ready_count(samples) == sent  # the dead workers' counts stay
    assert in_flight(samples) == 0  # their in-flight requests do not

    # The restarted workers answer some requests, and a reload retires them at once
    # (before their once-a-second flush): a retiring worker writes its counts as it stops.
    sent_again, _ = await ready_until_both_workers_answered(gateway.url)
    gateway.signal(signal.SIGHUP)
    await gateway.wait_for_log(msg("reloaded"))
    await gateway.wait_for_log(msg("worker exited"), count=2)  # both retired workers are gone
    samples = await scrape(gateway.metrics_url)
    assert ready_count(samples) == sent + sent_again
    async with aiohttp.ClientSession() as session, session.get(gateway.url + "/ready") as response:
        assert response.status == 200
    samples = await scrape_until(gateway.metrics_url, lambda samples: ready_count(samples) >= sent + sent_again + 1)
    assert ready_count(samples) == sent + sent_again + 1
    # Histograms survive as counters do: one duration per /ready answered.
    duration = samples[("gateway_request_duration_seconds_count", (("provider", "none"), ("route", "/ready")))]
    assert duration == sent + sent_again + 1

    # The metrics address is the only place /metrics is served.
    async with aiohttp.ClientSession() as session, session.get(gateway.url + "/metrics") as response:
        assert response.status == 404


async def test_without_a_metrics_address_the_api_port_serves_them(unused_tcp_port):
    gateway = await GatewayProcess.start(unused_tcp_port, "--workers", "2")
    try:
        sent, _ = await ready_until_both_workers_answered(gateway.url)
        # The scrape counts itself only once it is answered: /ready's count is exact.
        samples = await scrape_until(gateway.url + "/metrics", lambda samples: ready_count(samples) >= sent)
        assert ready_count(samples) == sent
    finally:
        await gateway.close()


async def test_an_operators_metrics_directory_starts_from_zero_at_each_start(unused_tcp_port, tmp_path):
    # PROMETHEUS_MULTIPROC_DIR set by the operator outlives the gateway: the previous
    # run's files stay there, and must not count again (nor its dead workers' gauges).
    env = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    first = await GatewayProcess.start(unused_tcp_port, env=env)
    try:
        async with aiohttp.ClientSession() as session:
            for _ in range(3):
                async with session.get(first.url + "/ready") as response:
                    assert response.status == 200
        await scrape_until(first.url + "/metrics", lambda samples: ready_count(samples) >= 3)
        first.signal(signal.SIGTERM)
        assert await first.exit_code() == 0
    finally:
        await first.close()
    assert list(tmp_path.glob("*.db"))  # the operator's directory keeps them
    second = await GatewayProcess.start(unused_tcp_port, env=env)
    try:
        async with aiohttp.ClientSession() as session, session.get(second.url + "/ready") as response:
            assert response.status == 200
        samples = await scrape_until(second.url + "/metrics", lambda samples: ready_count(samples) >= 1)
        assert ready_count(samples) == 1
    finally:
        await second.close()


async def test_a_busy_metrics_address_stops_the_start(unused_tcp_port_factory):
    port = unused_tcp_port_factory()
    async with _listening(unused_tcp_port_factory()) as busy:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "--port", str(port), "--metrics-listen", f"127.0.0.1:{busy}",
            stderr=asyncio.subprocess.PIPE,
        )
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 2
    assert b"--metrics-listen" in stderr


class _listening:
    """A port some other program holds."""

    def __init__(self, port: int) -> None:
        self.port = port

    async def __aenter__(self) -> int:
        self.server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", self.port)
        return self.port

    async def __aexit__(self, *exc) -> None:
        self.server.close()
        await self.server.wait_closed()
