"""Timeouts: until the first byte (per attempt) and between stream chunks (idle)."""

from __future__ import annotations

import asyncio

import openai
import orjson
import pytest
from aiohttp import web

from gateway.settings import Settings
from tests.conftest import TEST_KEY
from tests.routing.conftest import chat, leaf
from tests.routing.test_fallback import fallback


@pytest.fixture
def settings() -> Settings:
    return Settings(idle_timeout=0.2)


async def test_idle_timeout_config_field_ends_a_silent_stream(make_fake, sdk_for, access_lines):
    fake, spare = await make_fake(), await make_fake()
    fake.gate = asyncio.Event()  # the stream goes silent after its first word, for good
    with pytest.raises(openai.APIError) as caught:
        await chat(sdk_for(fallback(leaf(fake, idle_timeout=100), leaf(spare))), stream=True)
    assert "sent nothing for 0.1 s" in caught.value.message
    assert spare.requests == []  # after the first byte the answer is committed
    [line] = access_lines()
    assert (line.fields["status"], line.fields["failed"], line.fields["stream_error"]) == (
        200,
        "after_first_byte",
        "stream_idle_timeout",
    )


async def test_idle_timeout_is_inherited(make_fake, sdk_for):
    fake = await make_fake()
    fake.gate = asyncio.Event()
    with pytest.raises(openai.APIError) as caught:
        await chat(sdk_for({"idle_timeout": 50, **fallback(leaf(fake))}), stream=True)
    assert "sent nothing for 0.05 s" in caught.value.message


async def test_idle_timeout_setting_applies_without_a_config_field(make_fake, sdk_for):
    fake = await make_fake()
    fake.gate = asyncio.Event()
    with pytest.raises(openai.APIError) as caught:
        await chat(sdk_for(leaf(fake)), stream=True)
    assert "sent nothing for 0.2 s" in caught.value.message


class PacedUpstream:
    """An OpenAI-style upstream whose stream sends one chunk per ``send`` and is
    silent in between; it never ends by itself (``stop`` lets its handler return)."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.url = ""

    def send(self, text: str | None) -> None:
        self.queue.put_nowait(text)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        while (text := await self.queue.get()) is not None:
            chunk = {
                "id": "chatcmpl-paced",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-4o-mini",
                "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}],
            }
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        return response


@pytest.fixture
async def paced(aiohttp_server):
    upstream = PacedUpstream()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream.handle)
    upstream.url = str((await aiohttp_server(app)).make_url("/v1"))
    yield upstream
    upstream.send(None)


async def test_a_stream_that_keeps_talking_is_not_cut_and_then_its_silence_is(paced, sdk_for, access_lines):
    """0.5 s idle limit; ten chunks 0.1 s apart (over a second in all) all arrive, then
    the upstream says nothing more and the gateway ends the stream with an error."""
    idle_limit_s, gap_s, chunks = 0.5, 0.1, 10
    client = sdk_for({"provider": "openai", "api_key": TEST_KEY, "custom_host": paced.url, "idle_timeout": 500})
    loop = asyncio.get_running_loop()
    received: list[str] = []
    paced.send("word0 ")
    started = loop.time()
    async with asyncio.timeout(20):  # without an idle deadline the silence would last for ever
        stream = await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "talk"}], stream=True
        )
        with pytest.raises(openai.APIError) as caught:
            async for chunk in stream:
                received.append(chunk.choices[0].delta.content)
                if len(received) < chunks:
                    # A real gap in the upstream's talk (the thing under test), well
                    # under the idle limit.
                    await asyncio.sleep(gap_s)
                    paced.send(f"word{len(received)} ")
                else:
                    talked_for = loop.time() - started
    assert received == [f"word{n} " for n in range(chunks)]
    assert talked_for > idle_limit_s  # so a deadline on the whole stream would have cut it
    assert "sent nothing for 0.5 s" in caught.value.message
    [line] = access_lines()
    assert (line.fields["failed"], line.fields["stream_error"]) == ("after_first_byte", "stream_idle_timeout")
