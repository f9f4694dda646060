"""The usage filter (gateway/streaming/usage_filter.py) drops only the usage event it
asked for; its end-to-end wiring is in tests/keys/test_limits_wiring.py."""

from __future__ import annotations

from gateway.streaming.usage_filter import UsageChunkFilter

USAGE = b'"usage":{"prompt_tokens":3,"completion_tokens":2,"total_tokens":5}'


def test_a_last_choice_event_that_carries_the_usage_is_kept():
    # Mistral and others put the usage on the event with the finish_reason: dropping it
    # would lose the finish_reason (and the last delta) the client is waiting for.
    last = b'data: {"id":"c","choices":[{"index":0,"delta":{"content":"!"},"finish_reason":"stop"}],' + USAGE + b"}\n\n"
    usage_only = b'data: {"id":"c","choices":[],' + USAGE + b"}\n\n"
    usage_filter = UsageChunkFilter()
    assert usage_filter.feed(last) == last
    assert usage_filter.feed(usage_only) == b""
