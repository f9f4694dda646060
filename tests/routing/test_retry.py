"""Retries: counts, statuses, backoff and retry-after, with the gateway's sleep recorded."""

from __future__ import annotations

from email.utils import formatdate

import openai
import pytest

from gateway.routing.retry import BACKOFF_MAX_S, backoff, retry_after
from tests.fakes.openai import DROP, HANG, Fail
from tests.routing.conftest import NOW, chat, leaf
from tests.routing.test_fallback import fallback, refused_leaf


def check_equal_jitter(waits: list[float]) -> None:
    """The documented rule, written out here rather than taken from the code under test:
    before retry n (0-based) the wait is half of min(8 s, 0.5 s * 2**n) plus a random
    part up to the other half, so it lies in (ceiling / 2, ceiling]."""
    fractions = []
    for n, wait in enumerate(waits):
        ceiling = min(8.0, 0.5 * 2**n)
        assert ceiling / 2 < wait <= ceiling, f"wait before retry {n} is {wait} s, not in ({ceiling / 2}, {ceiling}]"
        fractions.append((wait - ceiling / 2) / (ceiling / 2))
    # Jitter: the random parts differ (a fixed wait would repeat the same fraction).
    assert len(set(fractions)) == len(fractions)


def test_backoff_is_exponential_with_equal_jitter():
    assert [backoff(n, 0.0) for n in range(6)] == [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]
    assert [backoff(n, 0.999999) for n in range(3)] == pytest.approx([0.5, 1.0, 2.0], rel=1e-5)
    assert backoff(30, 1.0) == BACKOFF_MAX_S


@pytest.mark.parametrize(
    "headers, seconds",
    [
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250", "retry-after": "9"}, 0.25),
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": formatdate(NOW + 3, usegmt=True)}, 3.0),
        ({"retry-after": formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"retry-after": "soon"}, None),
        ({"retry-after-ms": "-5"}, None),
        ({}, None),
    ],
)
def test_retry_after_headers(headers, seconds):
    assert retry_after(headers, NOW) == seconds


@pytest.mark.parametrize("stream", [False, True])
async def test_first_requests_fail_then_retries_succeed(make_fake, sdk_for, sleeps, access_lines, stream):
    fake = await make_fake()
    fake.script = [Fail(503), Fail(502)]
    headers, text = await chat(sdk_for(leaf(fake, retry={"attempts": 3})), stream=stream)
    assert text == "You said: Hello there"
    assert headers["x-portkey-retry-attempt-count"] == "2"
    assert len(fake.requests) == 3
    assert len(sleeps) == 2
    check_equal_jitter(sleeps)
    attempts = access_lines()[0].fields["attempts"]
    assert [(a["status"], a.get("then")) for a in attempts] == [(503, "retry"), (502, "retry"), (200, None)]


async def test_every_retry_used_answers_the_failure_with_minus_one(make_fake, sdk_for, sleeps):
    fake = await make_fake()
    fake.script = [Fail(503)] * 4
    with pytest.raises(openai.APIStatusError) as caught:
        await chat(sdk_for(leaf(fake, retry={"attempts": 3})))
    assert caught.value.status_code == 503
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "-1"
    assert len(fake.requests) == 4 and len(sleeps) == 3


async def test_statuses_outside_the_list_are_not_retried(make_fake, sdk_for, sleeps):
    fake = await make_fake()
    fake.script = [Fail(400, type="invalid_request_error")]
    with pytest.raises(openai.BadRequestError) as caught:
        await chat(sdk_for(leaf(fake, retry={"attempts": 3})))
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "0"
    fake.script = [Fail(503)]
    with pytest.raises(openai.InternalServerError):
        await chat(sdk_for(leaf(fake, retry={"attempts": 3, "on_status_codes": [500]})))
    assert len(fake.requests) == 2 and sleeps == []


@pytest.mark.parametrize("stream", [False, True])
async def test_network_errors_are_retried(make_fake, sdk_for, stream):
    fake = await make_fake()
    fake.script = [DROP]
    headers, _ = await chat(sdk_for(leaf(fake, retry={"attempts": 1, "on_status_codes": [429]})), stream=stream)
    assert headers["x-portkey-retry-attempt-count"] == "1"


async def test_refused_connections_are_retried_then_reported(sdk_for, access_lines):
    with pytest.raises(openai.APIStatusError) as caught:
        await chat(sdk_for({**refused_leaf(), "retry": {"attempts": 2}}))
    assert caught.value.status_code == 502
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "-1"
    assert [a["error"] for a in access_lines()[0].fields["attempts"]] == ["upstream_unreachable"] * 3


async def test_a_timeout_counts_by_its_status_408(make_fake, sdk_for):
    fake = await make_fake()
    fake.script = [HANG]
    with pytest.raises(openai.APIStatusError) as caught:
        await chat(sdk_for(leaf(fake, request_timeout=100, retry={"attempts": 2})))
    assert caught.value.status_code == 408 and len(fake.requests) == 1
    fake.script = [HANG]
    config = leaf(fake, request_timeout=100, retry={"attempts": 2, "on_status_codes": [408]})
    headers, _ = await chat(sdk_for(config))
    assert headers["x-portkey-retry-attempt-count"] == "1"


@pytest.mark.parametrize(
    "answer_headers, waits",
    [
        ({"retry-after-ms": "1500"}, [1.5]),
        ({"x-ms-retry-after-ms": "20"}, [0.02]),
        ({"retry-after": "7"}, [7.0]),
    ],
)
async def test_retry_after_header_is_honoured(make_fake, sdk_for, sleeps, answer_headers, waits):
    fake = await make_fake()
    fake.script = [Fail(429, type="requests", headers=answer_headers)]
    config = leaf(fake, retry={"attempts": 2, "use_retry_after_header": True})
    headers, _ = await chat(sdk_for(config))
    assert headers["x-portkey-retry-attempt-count"] == "1"
    assert sleeps == waits


async def test_retry_after_is_ignored_unless_asked_for(make_fake, sdk_for, sleeps):
    fake = await make_fake()
    fake.script = [Fail(429, type="requests", headers={"retry-after": "30"})]
    await chat(sdk_for(leaf(fake, retry={"attempts": 2})))
    assert len(sleeps) == 1 and 0.25 < sleeps[0] <= 0.5  # the first backoff, not 30 s


async def test_retry_after_beyond_the_budget_passes_the_answer_on(make_fake, sdk_for, sleeps, access_lines):
    fake = await make_fake()
    fake.script = [Fail(429, type="requests", headers={"retry-after-ms": "50000"})] * 2
    config = leaf(fake, retry={"attempts": 3, "use_retry_after_header": True})
    with pytest.raises(openai.RateLimitError) as caught:
        await chat(sdk_for(config))
    # One 50 s wait fits in the 60 s budget; a second would not.
    assert sleeps == [50.0]
    assert caught.value.response.headers["retry-after-ms"] == "50000"
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "1"
    assert access_lines()[0].fields["attempts"][-1]["retry"] == "over_wait_budget"


async def test_attempts_are_capped_at_five(make_fake, sdk_for, sleeps):
    fake = await make_fake()
    fake.script = [Fail(500)] * 10
    with pytest.raises(openai.InternalServerError) as caught:
        await chat(sdk_for(leaf(fake, retry={"attempts": 10})))
    assert len(fake.requests) == 6 and len(sleeps) == 5
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "-1"
    # 0.25..0.5, 0.5..1, 1..2, 2..4, 4..8 s: growing, each within its own doubling.
    check_equal_jitter(sleeps)


async def test_retry_after_waits_are_honoured_up_to_60_seconds_in_all(make_fake, sdk_for, sleeps, access_lines):
    fake = await make_fake()
    fake.script = [Fail(503, headers={"retry-after": "20"})] * 5
    with pytest.raises(openai.InternalServerError) as caught:
        await chat(sdk_for(leaf(fake, retry={"attempts": 5, "use_retry_after_header": True})))
    # Three waits of 20 s make 60 s, the budget; a fourth would pass it, so the fourth
    # failure is answered instead of waiting.
    assert sleeps == [20.0, 20.0, 20.0]
    assert len(fake.requests) == 4
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "3"
    assert access_lines()[0].fields["attempts"][-1]["retry"] == "over_wait_budget"


async def test_retry_count_header(make_fake, sdk_for):
    fake = await make_fake()
    fake.script = [Fail(500)] * 10
    client = sdk_for(**{"x-portkey-provider": "openai", "x-portkey-custom-host": fake.url, "x-portkey-retry-count": "2"})
    with pytest.raises(openai.InternalServerError) as caught:
        await chat(client)
    assert len(fake.requests) == 3
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "-1"


async def test_config_retry_beats_the_retry_count_header(make_fake, sdk_for):
    fake = await make_fake()
    fake.script = [Fail(500)] * 10
    client = sdk_for(leaf(fake, retry={"attempts": 1}), **{"x-portkey-retry-count": "4"})
    with pytest.raises(openai.InternalServerError):
        await chat(client)
    assert len(fake.requests) == 2


async def test_retries_then_fallback_reports_the_answering_targets_count(make_fake, sdk_for, access_lines):
    first, second = await make_fake(), await make_fake()
    first.script = [Fail(503)] * 3
    config = {**fallback(leaf(first), leaf(second)), "retry": {"attempts": 2}}
    headers, _ = await chat(sdk_for(config), stream=True)
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert headers["x-portkey-retry-attempt-count"] == "0"
    attempts = access_lines()[0].fields["attempts"]
    assert [a.get("then") for a in attempts] == ["retry", "retry", "fallback", None]


async def test_a_target_allowed_no_retries_reports_zero_not_minus_one(make_fake, sdk_for):
    # -1 says "every retry allowed was used"; a target allowed none made none. (The
    # last target of a fallback goes through the retry loop with attempts 0.)
    first, second = await make_fake(), await make_fake()
    first.script, second.script = [Fail(503)], [Fail(503)]
    with pytest.raises(openai.InternalServerError) as caught:
        await chat(sdk_for(fallback(leaf(first), leaf(second))))
    assert caught.value.response.headers["x-portkey-retry-attempt-count"] == "0"
