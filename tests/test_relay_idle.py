"""The idle deadline of a relayed stream: a silent upstream ends it with an error event."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from gateway.settings import Settings
from gateway.streaming.idle import IdleDeadline
from tests.conftest import TEST_KEY

STREAM_BODY = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "one two three"}], "stream": True}


@pytest.mark.parametrize("settings", [Settings(idle_timeout=0.2)])
async def test_silent_upstream_ends_stream_with_idle_timeout_event(client, fake_openai, openai_headers, settings):
    fake_openai.gate = asyncio.Event()  # never set: the upstream falls silent after its first chunk
    response = await client.post(
        "/v1/chat/completions", json=STREAM_BODY, headers={**openai_headers, "Authorization": f"Bearer {TEST_KEY}"}
    )
    assert response.status == 200
    body = await response.read()
    events = [line[6:] for line in body.split(b"\n\n") if line.startswith(b"data: ")]
    assert b"[DONE]" not in events
    assert orjson.loads(events[-1])["error"]["code"] == "stream_idle_timeout"
    assert any(b"chat.completion.chunk" in event for event in events[:-1])
    await asyncio.wait_for(fake_openai.disconnected.wait(), 10)  # the upstream call was dropped


async def test_time_outside_a_wait_does_not_count():
    released = asyncio.Event()
    with IdleDeadline(0.05) as idle:
        # Not waiting: the deadline re-arms instead of firing.
        loop = asyncio.get_running_loop()
        loop.call_later(0.15, released.set)
        await released.wait()
        idle.waiting()
        idle.done()


async def test_a_wait_past_the_deadline_raises_timeout_error():
    with pytest.raises(TimeoutError):
        with IdleDeadline(0.05) as idle:
            idle.waiting()
            await asyncio.Event().wait()


async def test_another_cancellation_stays_a_cancellation():
    started = asyncio.Event()

    async def waits():
        with IdleDeadline(60) as idle:
            idle.waiting()
            started.set()
            await asyncio.Event().wait()

    task = asyncio.create_task(waits())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
