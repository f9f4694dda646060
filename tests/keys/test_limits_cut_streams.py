"""A translated stream cut short (the client leaves, the upstream breaks off) is charged
what it streamed: the provider's input count where it sent one early (Anthropic's
``message_start``), else the request's estimate (Bedrock counts only at the end), and
the output counted from the deltas relayed. The access line and the metrics report the
same counts, flagged estimated. Through the gateway, with the fake upstreams."""

from __future__ import annotations

import asyncio

import orjson
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gateway.providers.anthropic.stream import ChatStreamTranslator
from gateway.settings import Settings
from gateway.store.runtime import STORE_RUNTIME
from tests.fakes.anthropic import FakeAnthropic, sse, stream_events
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY, Script
from tests.fakes.google import API_KEY_PREFIX as GEMINI_KEY_PREFIX
from tests.keys.admin_setup import ADMIN, settled, store_settings
from tests.keys.test_limits_wiring import charged, until
from tests.test_metrics import scrape

ANTHROPIC_KEY = "sk-ant-test-0123456789"
REGION = "us-east-1"
# Anthropic's fake counts 4 input tokens (words); the request's estimate is 23 characters ÷ 4 → 6.
ASKED = "count these words please"
ESTIMATED_INPUT = 6
# Claude echoes "You said: count these words please", one word per text delta.
CLAUDE_PIECES = ["You", " said:", " count", " these", " words", " please"]
# Bedrock's fake sends each text block in two halves; it reports usage only in its last frame.
BEDROCK_BLOCKS = [{"text": "alpha beta"}, {"text": "gamma delta epsilon"}]
BEDROCK_PIECES = ["alpha", " beta", "gamma del", "ta epsilon"]  # frames 1, 2, 4, 5


def output_estimate(pieces: list[str]) -> int:
    """One token per delta at least, the characters ÷ 4 when more (several tokens a delta)."""
    return max(len(pieces), -(-sum(map(len, pieces)) // 4))


@pytest.fixture
def settings(tmp_path) -> Settings:
    return store_settings(tmp_path, limits_db=str(tmp_path / "limits.sqlite3"), alert_webhook_url=None)


async def limited_key(admin, gateway, provider: str, **credentials) -> dict[str, str]:
    """A virtual key with a token budget, and an API key to use it: the request headers."""
    await admin.virtual_keys.create(name="team", slug="team", provider=provider, usage_limits={"token_limit": 100_000},
                                    **credentials)
    created = await admin.api_keys.create(type="workspace", sub_type="service", name="svc")
    await settled(gateway.app[STORE_RUNTIME].view)
    return {"x-portkey-api-key": created.key, "x-portkey-virtual-key": "team"}


async def stream_until(client, headers: dict, model: str, last_piece: str, *, leave: bool):
    """Start a chat stream; read until ``last_piece`` was relayed (then hang up when
    ``leave``), else to its end. The raw response."""
    body = {"model": model, "messages": [{"role": "user", "content": ASKED}], "stream": True}
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status == 200
    if not leave:
        await response.read()
        return response
    expected = b'"content":"' + last_piece.encode() + b'"'
    received = b""
    while expected not in received:
        received += await response.content.readany()
    response.close()  # the client hangs up mid-stream
    return response


async def charged_usage(client, gateway, access_lines, status: int) -> tuple[dict, dict]:
    """Once the request's access line is written and its charge flushed: the day's usage
    of the virtual key (admin API), and the access line's usage."""
    def line():
        found = [r for r in access_lines() if r.fields["path"] == "/v1/chat/completions"]
        return found[0] if found else None

    await until(lambda: line() is not None)
    assert line().fields["status"] == status
    await charged(gateway)
    usage = await (await client.get("/v1/virtual-keys/team/usage", headers=ADMIN)).json()
    [today] = usage["data"]
    return today, line().fields["usage"]


async def assert_metrics(client, provider: str, input_tokens: int, output_tokens: int) -> None:
    samples = await scrape(client)
    tokens = {}
    for (name, labels), value in samples.items():
        labels = dict(labels)
        if name == "gateway_tokens_total" and labels["provider"] == provider:
            tokens[labels["type"]] = tokens.get(labels["type"], 0) + value
    assert (tokens.get("input"), tokens.get("output")) == (input_tokens, output_tokens)


@pytest.mark.parametrize("deltas", [1, 3, 6])
async def test_an_anthropic_stream_the_upstream_cuts_is_charged_its_input_and_the_deltas(
    admin, gateway, client, fake_anthropic, access_lines, deltas
):
    headers = await limited_key(admin, gateway, "anthropic", key=ANTHROPIC_KEY, custom_host=fake_anthropic.url)
    fake_anthropic.abort_after = 3 + deltas  # message_start, ping, content_block_start, then the deltas
    await stream_until(client, headers, "claude-3-5-sonnet-20241022", "", leave=False)
    today, logged = await charged_usage(client, gateway, access_lines, 200)
    output = output_estimate(CLAUDE_PIECES[:deltas])
    # Anthropic's own input count (4 words) from message_start, not the request's estimate (6).
    assert (today["requests"], today["input_tokens"], today["output_tokens"]) == (1, 4, output)
    assert logged == {"input": 4, "output": output, "cache_read": 0, "cache_write": 0, "reasoning": 0, "estimated": True}
    await assert_metrics(client, "anthropic", 4, output)


async def test_an_anthropic_stream_the_client_leaves_is_charged_its_input_and_the_deltas(
    admin, gateway, client, fake_anthropic, access_lines
):
    headers = await limited_key(admin, gateway, "anthropic", key=ANTHROPIC_KEY, custom_host=fake_anthropic.url)
    fake_anthropic.gate = asyncio.Event()  # never set: the upstream holds after its first text delta
    await stream_until(client, headers, "claude-3-5-sonnet-20241022", "You", leave=True)
    today, logged = await charged_usage(client, gateway, access_lines, 499)
    assert (today["requests"], today["input_tokens"], today["output_tokens"]) == (1, 4, 1)
    assert logged["estimated"] is True and (logged["input"], logged["output"]) == (4, 1)


@pytest.mark.parametrize("frames", [2, 5, 8])  # 8: all but the metadata frame that carries the usage
@pytest.mark.parametrize("leave", [False, True], ids=["upstream-cuts", "client-leaves"])
async def test_a_bedrock_stream_cut_short_is_charged_the_estimated_input_and_the_deltas(
    admin, gateway, client, fake_bedrock, access_lines, frames, leave
):
    headers = await limited_key(admin, gateway, "bedrock", awsAccessKeyId=ACCESS_KEY, awsSecretAccessKey=SECRET_KEY,
                                awsRegion=REGION, custom_host=fake_bedrock.url)
    fake_bedrock.script = Script(BEDROCK_BLOCKS)
    if leave:
        fake_bedrock.gate, fake_bedrock.gate_after = asyncio.Event(), frames - 1  # holds after that many frames
    else:
        fake_bedrock.truncate_after = frames
    sent = [piece for frame, piece in zip((1, 2, 4, 5), BEDROCK_PIECES, strict=True) if frame < frames]
    await stream_until(client, headers, "anthropic.claude-3-5-sonnet-20241022-v2:0", sent[-1], leave=leave)
    today, logged = await charged_usage(client, gateway, access_lines, 499 if leave else 200)
    output = output_estimate(sent)
    # No count from Bedrock before its last frame: the request's estimate for the input.
    assert (today["requests"], today["input_tokens"], today["output_tokens"]) == (1, ESTIMATED_INPUT, output)
    assert logged["estimated"] is True and (logged["input"], logged["output"]) == (ESTIMATED_INPUT, output)
    await assert_metrics(client, "bedrock", ESTIMATED_INPUT, output)


@pytest.mark.parametrize("deltas", [2, 5])
async def test_a_gemini_stream_that_ends_before_its_finish_is_charged_its_prompt_count_and_the_deltas(
    admin, gateway, client, fake_gemini, access_lines, deltas
):
    headers = await limited_key(admin, gateway, "google", key=GEMINI_KEY_PREFIX + "0123456789", custom_host=fake_gemini.url)
    fake_gemini.end_after = deltas  # one word per event, each with usageMetadata.promptTokenCount; no finishReason
    await stream_until(client, headers, "gemini-2.0-flash", "", leave=False)
    today, logged = await charged_usage(client, gateway, access_lines, 200)
    output = output_estimate(CLAUDE_PIECES[:deltas])  # the same echo, one word per event
    # Gemini's prompt count (5: its fake counts a word per word and one per part), not the estimate (6).
    assert (today["requests"], today["input_tokens"], today["output_tokens"]) == (1, 5, output)
    assert logged["estimated"] is True and (logged["input"], logged["output"]) == (5, output)
    await assert_metrics(client, "google", 5, output)


async def test_a_whole_translated_stream_is_charged_the_providers_usage_not_an_estimate(
    admin, gateway, client, fake_bedrock, access_lines
):
    headers = await limited_key(admin, gateway, "bedrock", awsAccessKeyId=ACCESS_KEY, awsSecretAccessKey=SECRET_KEY,
                                awsRegion=REGION, custom_host=fake_bedrock.url)
    fake_bedrock.script = Script(BEDROCK_BLOCKS)  # usage: 12 in, 5 out
    await stream_until(client, headers, "anthropic.claude-3-5-sonnet-20241022-v2:0", "", leave=False)
    today, logged = await charged_usage(client, gateway, access_lines, 200)
    assert (today["input_tokens"], today["output_tokens"]) == (12, 5)
    assert "estimated" not in logged


CLAUDE_STREAM = b"".join(
    sse(name, data)
    for name, data in stream_events(FakeAnthropic().message({"model": "claude-x", "max_tokens": 9,
                                                             "messages": [{"role": "user", "content": ASKED}]}), [])
)


@hypothesis_settings(max_examples=200, deadline=None)
@given(cut=st.integers(0, len(CLAUDE_STREAM)), splits=st.lists(st.integers(0, len(CLAUDE_STREAM)), max_size=6))
def test_a_cut_anthropic_streams_estimate_counts_what_went_out_however_the_bytes_are_split(cut, splits):
    stream = ChatStreamTranslator(model="claude-x", include_usage=False)
    bounds = sorted({0, cut, *(s for s in splits if s < cut)})
    out = b"".join(stream.feed(CLAUDE_STREAM[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    relayed = [piece for piece in CLAUDE_PIECES if b'"content":' + orjson.dumps(piece) in out]
    usage = stream.partial_usage(input_estimate=ESTIMATED_INPUT)
    started = b'"role":"assistant"' in out  # message_start, with Anthropic's input count, went out
    if stream.usage is not None:  # the whole answer got through: its usage is the provider's
        assert (stream.usage.input, stream.usage.output) == (4, len(CLAUDE_PIECES))
    elif started:
        assert (usage.input, usage.output) == (4, max(1, output_estimate(relayed)))
    assert usage.estimated
