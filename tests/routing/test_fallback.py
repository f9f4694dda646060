"""Fallback end to end: upstreams that fail on command, the official SDK as client."""

from __future__ import annotations

import aiohttp.test_utils
import openai
import pytest

from tests.fakes.openai import DROP, HANG, Fail
from tests.routing.conftest import chat, leaf

STREAM = [False, True]


def fallback(*targets, **strategy) -> dict:
    return {"strategy": {"mode": "fallback", **strategy}, "targets": list(targets)}


def refused_leaf() -> dict:
    """A target on a port where nothing listens."""
    return leaf_url(f"http://127.0.0.1:{aiohttp.test_utils.unused_port()}/v1")


def leaf_url(url: str) -> dict:
    return {"provider": "openai", "api_key": "sk-test-0123456789", "custom_host": url}


@pytest.mark.parametrize("stream", STREAM)
async def test_status_failure_moves_on_invisibly(make_fake, sdk_for, access_lines, stream):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(503)]
    headers, text = await chat(sdk_for(fallback(leaf(first), leaf(second))), stream=stream)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert headers["x-portkey-provider"] == "openai"
    assert headers["x-portkey-retry-attempt-count"] == "0"
    assert len(first.requests) == len(second.requests) == 1
    [line] = access_lines()
    attempts = line.fields["attempts"]
    assert [(a["target"], a["status"]) for a in attempts] == [("config.targets[0]", 503), ("config.targets[1]", 200)]
    assert attempts[0]["then"] == "fallback" and "failed" not in line.fields
    assert line.fields["option"] == "config.targets[1]"


@pytest.mark.parametrize("stream", STREAM)
async def test_connection_refused_moves_on(make_fake, sdk_for, stream):
    fake = await make_fake()
    headers, text = await chat(sdk_for(fallback(refused_leaf(), leaf(fake))), stream=stream)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"


@pytest.mark.parametrize("stream", STREAM)
async def test_connection_dropped_before_answer_moves_on(make_fake, sdk_for, access_lines, stream):
    first, second = await make_fake(), await make_fake()
    first.script = [DROP]
    headers, text = await chat(sdk_for(fallback(leaf(first), leaf(second))), stream=stream)
    assert text == "You said: Hello there"
    attempts = access_lines()[0].fields["attempts"]
    assert attempts[0]["status"] == 502 and attempts[0]["error"] == "upstream_unreachable"


@pytest.mark.parametrize("stream", STREAM)
async def test_first_byte_timeout_gives_408_and_moves_on(make_fake, sdk_for, access_lines, stream):
    slow, fast = await make_fake(), await make_fake()
    slow.script = [HANG]  # waits on an Event nobody sets
    config = fallback(leaf(slow, request_timeout=150), leaf(fast))
    headers, text = await chat(sdk_for(config), stream=stream)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    attempts = access_lines()[0].fields["attempts"]
    assert attempts[0]["status"] == 408 and attempts[0]["error"] == "request_timeout"
    assert attempts[0]["ms"] >= 150


async def test_timeout_alone_is_an_openai_timeout_error(make_fake, sdk_for):
    slow = await make_fake()
    slow.script = [HANG]
    with pytest.raises(openai.APIStatusError) as caught:
        await chat(sdk_for(leaf(slow, request_timeout=100)))
    assert caught.value.status_code == 408
    assert caught.value.body["type"] == "timeout_error"
    assert caught.value.response.headers["x-portkey-last-used-option-index"] == "config"


@pytest.mark.parametrize("stream", STREAM)
async def test_all_failing_answers_the_last_error_and_logs_every_attempt(make_fake, sdk_for, access_lines, stream):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(500)]
    second.script = [Fail(429, "Rate limit reached for gpt-4o-mini", "requests")]
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(sdk_for(fallback(leaf(first), refused_leaf(), leaf(second))), stream=stream)
    assert caught.value.message.endswith("Rate limit reached for gpt-4o-mini")
    assert caught.value.response.headers["x-portkey-last-used-option-index"] == "config.targets[2]"
    [line] = access_lines()
    assert line.fields["status"] == 429 and line.fields["failed"] == "before_first_byte"
    assert [(a["target"], a["status"]) for a in line.fields["attempts"]] == [
        ("config.targets[0]", 500),
        ("config.targets[1]", 502),
        ("config.targets[2]", 429),
    ]
    assert all(a["ms"] >= 0 for a in line.fields["attempts"])


async def test_all_failing_with_gateway_error_last(make_fake, sdk_for):
    fake = await make_fake()
    fake.script = [Fail(503)]
    with pytest.raises(openai.APIStatusError) as caught:
        await chat(sdk_for(fallback(leaf(fake), refused_leaf())))
    assert caught.value.status_code == 502
    assert caught.value.body["code"] == "upstream_unreachable"
    assert caught.value.response.headers["x-portkey-last-used-option-index"] == "config.targets[1]"


async def test_on_status_codes_limits_what_moves_on(make_fake, sdk_for):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(500)]
    with pytest.raises(openai.InternalServerError):
        await chat(sdk_for(fallback(leaf(first), leaf(second), on_status_codes=[429])))
    assert second.requests == []
    first.script = [Fail(429, type="requests")]
    headers, _ = await chat(sdk_for(fallback(leaf(first), leaf(second), on_status_codes=[429])))
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"


async def test_client_errors_also_move_on_by_default(make_fake, sdk_for):
    # A bad key at one provider is no reason to fail when another target can answer.
    first, second = await make_fake(), await make_fake()
    headers, _ = await chat(sdk_for(fallback(leaf(first, api_key="wrong"), leaf(second))))
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert first.requests[0].headers["Authorization"] == "Bearer wrong"


async def test_after_the_first_byte_no_fallback_and_an_error_event(make_fake, sdk_for, access_lines):
    first, second = await make_fake(), await make_fake()
    first.die_after_chunks = 2
    with pytest.raises(openai.APIError):
        await chat(sdk_for(fallback(leaf(first), leaf(second))), stream=True)
    assert second.requests == []
    [line] = access_lines()
    assert line.fields["failed"] == "after_first_byte"
    assert line.fields["stream_error"] == "upstream_error"
    assert line.fields["status"] == 200


@pytest.mark.parametrize("stream", STREAM)
async def test_each_target_gets_its_own_override_params(make_fake, sdk_for, stream):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(503)]
    config = fallback(
        leaf(first, override_params={"model": "first-model", "temperature": 0.1}),
        leaf(second, override_params={"model": "second-model"}),
    )
    await chat(sdk_for(config), stream=stream)
    import orjson

    sent_first, sent_second = orjson.loads(first.last.body), orjson.loads(second.last.body)
    assert (sent_first["model"], sent_first["temperature"]) == ("first-model", 0.1)
    assert sent_second["model"] == "second-model" and "temperature" not in sent_second
    assert sent_second["stream"] is stream


async def test_the_provider_header_names_the_target_that_answered(make_fake, sdk_for, access_lines):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(529, "Overloaded", "overloaded_error")]
    headers, _ = await chat(sdk_for(fallback(leaf(first), leaf(second, provider="groq"))), stream=True)
    assert headers["x-portkey-provider"] == "groq"
    assert access_lines()[0].fields["provider"] == "groq"
