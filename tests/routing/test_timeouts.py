"""Timeouts: until the first byte (per attempt) and between stream chunks (idle)."""

from __future__ import annotations

import asyncio

import openai
import pytest

from gateway.settings import Settings
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


async def test_a_stream_that_keeps_talking_is_not_cut(make_fake, sdk_for):
    fake = await make_fake()
    fake.gate = asyncio.Event()

    async def release_after_first_chunk():
        await fake.first_chunk_sent.wait()
        fake.gate.set()

    releaser = asyncio.create_task(release_after_first_chunk())
    _, text = await chat(sdk_for(leaf(fake, idle_timeout=5_000)), stream=True)
    await releaser
    assert text == "You said: Hello there"
