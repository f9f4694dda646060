"""The drain's deadline, in process: what it does to a request still waiting for its upstream."""

from __future__ import annotations

import asyncio

from gateway.middlewares.drain import IN_FLIGHT


async def test_a_request_waiting_for_its_upstream_gets_a_503_at_the_deadline(
    client, gateway, fake_openai, auth_headers, access_lines
):
    fake_openai.hang = asyncio.Event()
    body = {"model": "m", "messages": [{"role": "user", "content": "slow"}]}
    try:
        pending = asyncio.create_task(client.post("/v1/chat/completions", json=body, headers=auth_headers))
        await fake_openai.request_seen.wait()
        in_flight = gateway.app[IN_FLIGHT]
        in_flight.draining = True
        assert len(in_flight) == 1
        assert in_flight.cut() == 1
        response = await pending
        assert response.status == 503
        assert response.headers["Connection"] == "close"
        assert (await response.json())["error"]["code"] == "gateway_shutdown"
        assert len(in_flight) == 0
    finally:
        fake_openai.hang.set()
    [access] = access_lines()
    assert access.fields["status"] == 503 and access.fields["ended"] == "shutdown"
