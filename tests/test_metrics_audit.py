"""Issue 10's list of metrics, item by item, against one real scrape.

A real ``python -m gateway --workers 2`` (``tests/metrics_rig.py``: fake upstreams,
Redis limits and cache, stored keys with limits, an AWS credentials endpoint) gets
one request of every case; then a scrape of ``--metrics-listen`` must show each
family of the list moved by the case that feeds it.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.metrics_rig import CHAT, running_rig
from tests.redis_server import redis_server_binary


async def scrape(url: str) -> dict[tuple, float]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == 200
        text = await response.text()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def total(samples, name: str, **labels) -> float:
    """The sum over every series of ``name`` whose labels include ``labels``."""
    return sum(
        value for (sample, pairs), value in samples.items()
        if sample == name and labels.items() <= dict(pairs).items()
    )


async def scrape_until(url: str, condition, timeout: float = 10) -> dict[tuple, float]:
    """Each worker writes its counts to the shared files once a second: scrape until
    the other worker's last second is in, or return the last scrape after ``timeout``
    (the assertions after it then name what is missing)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        samples = await scrape(url)
        if condition(samples) or asyncio.get_running_loop().time() > deadline:
            return samples
        await asyncio.sleep(0.1)


# (family, labels): each must be > 0 after ``Rig.exercise``.
EXPECTED = [
    ("gateway_requests_total", {"route": "/v1/chat/completions", "provider": "openai", "status_class": "2xx"}),
    ("gateway_requests_total", {"route": "/v1/responses", "model": "o3-mini"}),
    ("gateway_requests_total", {"provider": "bedrock", "status_class": "2xx"}),
    ("gateway_requests_total", {"status_class": "4xx"}),
    ("gateway_request_duration_seconds_count", {"route": "/v1/chat/completions", "provider": "openai"}),
    ("gateway_time_to_first_byte_seconds_count", {"route": "/v1/chat/completions", "provider": "openai"}),
    ("gateway_overhead_seconds_count", {"route": "/v1/chat/completions"}),
    ("gateway_upstream_attempts_total", {"target": "config.targets[0]", "status_class": "5xx"}),
    ("gateway_upstream_attempts_total", {"target": "config.targets[1]", "status_class": "2xx"}),
    ("gateway_upstream_retries_total", {"target": "config.targets[0]"}),
    ("gateway_fallbacks_total", {"target": "config.targets[0]"}),
    ("gateway_tokens_total", {"type": "input"}),
    ("gateway_tokens_total", {"type": "output"}),
    ("gateway_tokens_total", {"type": "cache_read"}),
    ("gateway_tokens_total", {"type": "reasoning"}),
    ("gateway_cost_usd_total", {"provider": "openai"}),
    ("gateway_stream_chunks_total", {"provider": "openai"}),
    ("gateway_client_disconnects_total", {"phase": "after_first_byte"}),
    ("gateway_client_disconnects_total", {"phase": "before_first_byte"}),
    ("gateway_upstream_errors_total", {"kind": "connect"}),
    ("gateway_upstream_errors_total", {"kind": "timeout"}),
    ("gateway_upstream_errors_total", {"kind": "idle"}),
    ("gateway_upstream_errors_total", {"kind": "protocol"}),
    ("gateway_upstream_errors_total", {"kind": "status"}),
    ("gateway_rejections_total", {"reason": "invalid_api_key"}),
    ("gateway_rejections_total", {"reason": "rate_limit_exceeded"}),
    ("gateway_rejections_total", {"reason": "budget_exhausted"}),
    ("gateway_cache_requests_total", {"status": "MISS"}),
    ("gateway_cache_requests_total", {"status": "HIT"}),
    ("gateway_cache_requests_total", {"status": "REFRESH"}),
    ("gateway_bedrock_credential_refreshes_total", {"result": "resolved"}),
    ("gateway_bedrock_credential_refreshes_total", {"result": "refreshed"}),
    ("gateway_key_requests_total", {"api_key": "limited", "status_class": "4xx"}),
    ("gateway_key_requests_total", {"api_key": "team-a", "virtual_key": "team-openai", "status_class": "2xx"}),
    ("gateway_key_requests_total", {"api_key": "budgeted", "status_class": "4xx"}),
    ("gateway_key_tokens_total", {"api_key": "team-a", "type": "output"}),
    ("gateway_key_cost_usd_total", {"api_key": "team-a"}),
]


@pytest.fixture
async def rig(tmp_path):
    redis_server_binary()  # skips (fails under CI=true) without redis-server
    async with running_rig("--metrics-key-labels", "on") as rig:
        yield rig


async def test_every_item_of_the_list_moves_in_a_real_scrape(rig):
    async with aiohttp.ClientSession() as session:
        seen = await rig.exercise(session)
        # The cases answered as intended (else the scrape would prove nothing).
        assert [status for status, _ in seen["cache"]] == [200, 200, 200]
        assert [cache for _, cache in seen["cache"]] == ["MISS", "HIT", "REFRESH"]
        assert seen["limited"][-1] == 429 and seen["budgeted"][-1] == 412
        assert [status for status, _ in seen["bedrock"]] == [200, 200]
        assert seen["virtual_key"][0] == 200
        assert rig.credentials.calls >= 2  # the chain's session was renewed

        # In flight: a request and a stream held open by the silent upstream.
        async with session.post(rig.url + "/v1/chat/completions", json={**CHAT, "stream": True},
                                headers=rig.headers(upstream=rig.silent)) as response:
            await response.content.readline()
            samples = await scrape_until(rig.metrics_url, lambda samples: (
                total(samples, "gateway_streams_in_flight") == 1 and total(samples, "gateway_requests_in_flight") == 1))
            assert total(samples, "gateway_streams_in_flight") == total(samples, "gateway_requests_in_flight") == 1

    missing = lambda samples: [(name, labels) for name, labels in EXPECTED if total(samples, name, **labels) <= 0]  # noqa: E731
    samples = await scrape_until(rig.metrics_url, lambda samples: not missing(samples)
                                 and total(samples, "gateway_streams_in_flight") == 0)
    assert missing(samples) == []
    assert total(samples, "gateway_requests_in_flight") == 0
    # Each refusal counted once, by its code: the budget's 412 as well as the 429.
    assert total(samples, "gateway_rejections_total", reason="budget_exhausted") == seen["budgeted"].count(412)
    assert total(samples, "gateway_rejections_total", reason="rate_limit_exceeded") == seen["limited"].count(429)
