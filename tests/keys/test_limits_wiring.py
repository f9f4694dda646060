"""Limits on stored keys, on the request path: 429 / 412, remaining-headers, usage
charged after the answer (streams too) and read back through the admin API and CLI."""

from __future__ import annotations

import asyncio
import logging
import sys
import time

import openai
import orjson
import pytest
from aiohttp import web

from gateway.middlewares.limits import LIMITS
from gateway.settings import Settings
from tests.keys.admin_setup import ADMIN, settled, store_settings
from tests.keys.test_wiring import CHAT, PROVIDER_KEY, post_chat

# "hello there" → 2 prompt tokens; "You said: hello there" → 4 completion tokens.
TOKENS_PER_CALL = 6


@pytest.fixture
def settings(tmp_path) -> Settings:
    return store_settings(tmp_path, limits_db=str(tmp_path / "limits.sqlite3"), alert_webhook_url=None)


async def charged(gateway) -> None:
    """Wait for the charges of answers already given (they run after the answer)."""
    await gateway.app[LIMITS].charged()


async def setup(admin, view, fake_openai, *, key_limits=None, vk_limits=None) -> tuple[str, str, str]:
    vk = await admin.virtual_keys.create(
        name="team", provider="openai", key=PROVIDER_KEY, custom_host=fake_openai.url, slug="team", **(vk_limits or {})
    )
    created = await admin.api_keys.create(type="workspace", sub_type="service", name="svc", **(key_limits or {}))
    await settled(view)
    return created.key, created.id, vk.slug


async def test_a_request_limit_answers_429_with_headers_the_sdk_reads(admin, gateway, client, view, fake_openai):
    key, _, slug = await setup(admin, view, fake_openai, key_limits={"rate_limits": [{"type": "requests", "unit": "rpm", "value": 2}]})
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    remaining = []
    for _ in range(2):
        response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
        assert response.status == 200
        assert response.headers["x-ratelimit-limit-requests"] == "2"
        remaining.append(response.headers["x-ratelimit-remaining-requests"])
    assert remaining == ["1", "0"]
    sdk = openai.AsyncOpenAI(api_key="unused", base_url=str(gateway.make_url("/v1")), default_headers=headers, max_retries=0)
    with pytest.raises(openai.RateLimitError) as refused:
        await sdk.chat.completions.create(**CHAT)
    await sdk.close()
    response = refused.value.response
    assert response.status_code == 429 and int(response.headers["retry-after"]) <= 60
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert refused.value.code == "rate_limit_exceeded"
    assert len(fake_openai.requests) == 2


async def test_a_streamed_answer_carries_the_remaining_headers(admin, client, view, fake_openai):
    # A stream's headers go out from the relay, before the request ends: they must carry
    # the key's remaining-headers as a whole answer's do.
    key, _, slug = await setup(admin, view, fake_openai, key_limits={"rate_limits": [{"type": "requests", "unit": "rpm", "value": 5}]})
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers)
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/event-stream")
    assert response.headers["x-ratelimit-limit-requests"] == "5"
    assert response.headers["x-ratelimit-remaining-requests"] == "4"
    assert (await response.read()).endswith(b"data: [DONE]\n\n")


async def test_limits_given_to_a_virtual_key_apply_from_the_next_request(admin, gateway, client, view, fake_openai):
    # What limits a key and route is cached per request path: a changed store must reach it.
    key, _, slug = await setup(admin, view, fake_openai)
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200 and response.headers["x-ratelimit-limit-requests"] == "10000"  # the upstream's
    await admin.virtual_keys.update(slug=slug, rate_limits=[{"type": "requests", "unit": "rpm", "value": 1}])
    await settled(view)
    response = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert response.status == 200 and response.headers["x-ratelimit-limit-requests"] == "1"
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert (await client.post("/v1/chat/completions", json=CHAT, headers=headers)).status == 429


async def test_a_token_budget_answers_412_once_spent_streams_included(admin, gateway, client, view, fake_openai):
    limits = {"usage_limits": {"token_limit": TOKENS_PER_CALL + 1}}
    key, key_id, slug = await setup(admin, view, fake_openai, vk_limits=limits)
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True,
                                 "stream_options": {"include_usage": True}}, headers=headers)
    assert response.status == 200 and b"[DONE]" in await response.read()
    await charged(gateway)
    assert (await post_chat(client, headers))[0] == 200  # 6 of 7 used: something is left
    await charged(gateway)
    status, body = await post_chat(client, headers)
    assert status == 412 and body["error"]["code"] == "budget_exhausted"
    assert len(fake_openai.requests) == 2
    usage = await (await client.get(f"/v1/virtual-keys/{slug}/usage", headers=ADMIN)).json()
    assert "data" in usage, usage
    [today] = usage["data"]
    assert today["requests"] == 2 and today["input_tokens"] == 4 and today["output_tokens"] == 8
    by_key = await (await client.get(f"/v1/api-keys/{key_id}/usage", headers=ADMIN)).json()
    assert by_key["data"][0]["requests"] == 0  # the API key itself has no limits: nothing counted for it


async def test_a_credit_limit_counts_cost_and_alerts_once(admin, gateway, client, view, fake_openai, caplog):
    caplog.set_level(logging.WARNING, logger="gateway.limits")
    limits = {"usage_limits": {"credit_limit": 1, "alert_threshold": 0.000001}}
    key, key_id, slug = await setup(admin, view, fake_openai, key_limits=limits)
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    for _ in range(2):
        assert (await post_chat(client, headers))[0] == 200
        await charged(gateway)
    usage = await (await client.get(f"/v1/api-keys/{key_id}/usage", headers=ADMIN)).json()
    assert float(usage["data"][0]["cost_usd"]) > 0
    alerts = [r for r in caplog.records if r.getMessage() == "usage alert threshold crossed"]
    assert len(alerts) == 1 and alerts[0].fields["scope"] == f"api-key:{key_id}"
    status, body = await post_chat(client, headers, {**CHAT, "model": "no-such-model-priced"})
    assert status == 400 and body["error"]["code"] == "model_price_unknown"


async def test_alert_webhook_is_posted_off_the_request(admin, gateway, client, view, fake_openai, aiohttp_server):
    received = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put(await request.json())
        return web.json_response({})

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = await aiohttp_server(app)
    gateway.app[LIMITS].webhook_url = str(server.make_url("/hook"))
    import aiohttp

    gateway.app[LIMITS].session = aiohttp.ClientSession()
    try:
        key, key_id, slug = await setup(
            admin, view, fake_openai, key_limits={"usage_limits": {"alert_threshold": 0.000001, "credit_limit": 5}}
        )
        assert (await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}))[0] == 200
        event = await asyncio.wait_for(received.get(), 10)
        # gpt-4o: 2 input tokens × 2.50 USD per million + 4 output × 10 per million.
        assert event == {"event": "usage.alert_threshold_crossed", "scope": f"api-key:{key_id}",
                         "threshold_usd": "0.000001", "spent_usd": "0.000045", "period": "all"}
    finally:
        await charged(gateway)
        await gateway.app[LIMITS].session.close()
        gateway.app[LIMITS].session = None


async def test_gateway_usage_command_reads_the_same_counters(admin, gateway, client, view, fake_openai, settings):
    key, key_id, slug = await setup(admin, view, fake_openai, key_limits={"rate_limits": [{"type": "requests", "unit": "rpd", "value": 100}]})
    assert (await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}))[0] == 200
    await charged(gateway)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "gateway", "usage", "--api-key", key_id, "--limits-db", settings.limits_db,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode == 0, err.decode()
    report = orjson.loads(out)
    assert report["scope"] == f"api-key:{key_id}" and report["data"][0]["requests"] == 1
    assert report["data"][0]["input_tokens"] == 2 and report["data"][0]["output_tokens"] == 4


async def test_a_stream_is_asked_for_usage_which_the_client_never_sees(admin, gateway, client, view, fake_openai):
    key, _, slug = await setup(admin, view, fake_openai, vk_limits={"rate_limits": [{"type": "tokens", "unit": "rpd", "value": 1000}]})
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers)
    body = await response.read()
    assert response.status == 200 and body.endswith(b"data: [DONE]\n\n")
    assert orjson.loads(fake_openai.last.body)["stream_options"] == {"include_usage": True}
    events = [orjson.loads(e[6:]) for e in body.split(b"\n\n") if e.startswith(b"data: {")]
    assert events and all(event["choices"] for event in events)  # no usage-only event
    assert "".join(e["choices"][0]["delta"].get("content", "") for e in events) == "You said: hello there"
    await charged(gateway)
    usage = await (await client.get(f"/v1/virtual-keys/{slug}/usage", headers=ADMIN)).json()
    assert usage["data"][0]["output_tokens"] == 4  # charged from the usage the client did not see


def test_the_usage_filter_drops_only_the_usage_event_however_the_bytes_are_split():
    from gateway.streaming.usage_filter import UsageChunkFilter

    events = [
        b'data: {"choices":[{"delta":{"content":"hi"}}],"usage":null}\n\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":2,"completion_tokens":1}}\n\n',
        b"data: [DONE]\n\n",
    ]
    stream = b"".join(events)
    for cut in range(1, len(stream)):
        kept = UsageChunkFilter()
        out = kept.feed(stream[:cut]) + kept.feed(stream[cut:]) + kept.close()
        assert out == events[0] + events[2], cut


async def until(condition, timeout: float = 10) -> None:
    """Wait for ``condition()`` (a log line written by another task), up to ``timeout``."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.mark.parametrize("client_asked_for_usage", [False, True])
async def test_a_stream_the_client_leaves_is_charged_what_was_streamed(
    admin, gateway, client, view, fake_openai, access_lines, client_asked_for_usage
):
    key, _, slug = await setup(admin, view, fake_openai, vk_limits={"usage_limits": {"token_limit": 1000}})
    fake_openai.gate = asyncio.Event()  # never set: the upstream stops after its first word, before its usage
    body = {**CHAT, "stream": True}
    if client_asked_for_usage:
        body["stream_options"] = {"include_usage": True}
    response = await client.post("/v1/chat/completions", json=body, headers={"x-portkey-api-key": key,
                                                                             "x-portkey-virtual-key": slug})
    assert response.status == 200
    received = b""
    while b'"content":"You"' not in received:
        received += await response.content.readany()
    response.close()  # the client hangs up mid-stream
    await until(lambda: [line.fields["status"] for line in access_lines()
                         if line.fields["path"] == "/v1/chat/completions"] == [499])
    await charged(gateway)
    usage = await (await client.get(f"/v1/virtual-keys/{slug}/usage", headers=ADMIN)).json()
    [today] = usage["data"]
    # One content delta relayed ("You"); "hello there" is 11 characters → 3 tokens.
    assert (today["requests"], today["output_tokens"], today["input_tokens"]) == (1, 1, 3)


def test_the_estimate_counts_text_deltas_however_the_bytes_are_split():
    from gateway.streaming.usage_filter import UsageChunkFilter, estimate_input_tokens

    events = [
        b'data: {"choices":[{"delta":{"role":"assistant","content":""}}]}\n\n',
        b'data: {"choices":[{"delta":{"content":"He said \\"content\\":\\"x\\""}}]}\n\n',
        b'data: {"choices":[{"delta": {"reasoning_content": "hmm"}}]}\n\n',
        b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":""}}]}}]}\n\n',
        b'data: {"choices":[{"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\\"a\\":1}"}}]}}]}\n\n',
        b'data: {"choices":[{"delta":{},"finish_reason":"stop"}]}\n\n',
    ]
    stream = b"".join(events)
    for strip in (True, False):
        for cut in range(1, len(stream)):
            counted = UsageChunkFilter(strip=strip)
            out = counted.feed(stream[:cut]) + counted.feed(stream[cut:]) + counted.close()
            assert out == stream and counted.deltas == 3, (strip, cut)
    body = {"messages": [{"role": "user", "content": "x" * 9}, {"role": "user", "content": [{"type": "text", "text": "abc"}]}]}
    assert estimate_input_tokens(body) == 3


class MovedClock:
    """The limits' clock set ``ahead`` seconds before the end of the current UTC minute at
    the first reading, running at the real pace from there."""

    def __init__(self, before_minute_end: float) -> None:
        self.before = before_minute_end
        self.offset: float | None = None

    def __call__(self) -> float:
        now = time.time()
        if self.offset is None:
            self.offset = (now - now % 60 + 60 - self.before) - now
        return now + self.offset


@pytest.mark.timeout(30)
async def test_the_openai_sdk_waits_as_the_429_says_then_succeeds_in_the_next_window(
    admin, gateway, client, view, fake_openai, access_lines
):
    key, _, slug = await setup(admin, view, fake_openai, key_limits={"rate_limits": [{"type": "requests", "unit": "rpm", "value": 1}]})
    gateway.app[LIMITS].counters.clock = MovedClock(before_minute_end=1.5)
    sdk = openai.AsyncOpenAI(api_key="unused", base_url=str(gateway.make_url("/v1")), max_retries=1,
                             default_headers={"x-portkey-api-key": key, "x-portkey-virtual-key": slug})
    try:
        assert (await sdk.chat.completions.create(**CHAT)).choices[0].message.content == "You said: hello there"
        # Refused with retry-after-ms ≈ 1500: the SDK's own backoff (0.5 s × 2^n, less
        # jitter) would come back within the window and be refused again, with no retry left.
        assert (await sdk.chat.completions.create(**CHAT)).choices[0].message.content == "You said: hello there"
    finally:
        await sdk.close()
    statuses = [line.fields["status"] for line in access_lines() if line.fields["path"] == "/v1/chat/completions"]
    assert statuses == [200, 429, 200] and len(fake_openai.requests) == 2


async def test_the_openai_sdk_gets_the_429_when_the_window_outlasts_its_retries(
    admin, gateway, client, view, fake_openai, access_lines
):
    key, _, slug = await setup(admin, view, fake_openai, key_limits={"rate_limits": [{"type": "requests", "unit": "rpd", "value": 1}]})
    sdk = openai.AsyncOpenAI(api_key="unused", base_url=str(gateway.make_url("/v1")), max_retries=2,
                             default_headers={"x-portkey-api-key": key, "x-portkey-virtual-key": slug})
    try:
        await sdk.chat.completions.create(**CHAT)
        async with asyncio.timeout(20):  # the day's window: the SDK must not wait for it
            with pytest.raises(openai.RateLimitError) as refused:
                await sdk.chat.completions.create(**CHAT)
    finally:
        await sdk.close()
    assert int(refused.value.response.headers["retry-after"]) > 60
    statuses = [line.fields["status"] for line in access_lines() if line.fields["path"] == "/v1/chat/completions"]
    assert statuses[0] == 200 and set(statuses[1:]) == {429} and len(fake_openai.requests) == 1


async def test_an_alert_threshold_alone_gets_streams_charged_and_alerts(admin, gateway, client, view, fake_openai, caplog):
    # No credit or token limit: the alert threshold alone must still count the spend,
    # streams included (they are asked for their usage), or the alert never fires.
    caplog.set_level(logging.WARNING, logger="gateway.limits")
    key, key_id, slug = await setup(admin, view, fake_openai, key_limits={"usage_limits": {"alert_threshold": 0.000001}})
    headers = {"x-portkey-api-key": key, "x-portkey-virtual-key": slug}
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True}, headers=headers)
    assert response.status == 200 and (await response.read()).endswith(b"data: [DONE]\n\n")
    assert orjson.loads(fake_openai.last.body)["stream_options"] == {"include_usage": True}
    await charged(gateway)
    [today] = (await (await client.get(f"/v1/api-keys/{key_id}/usage", headers=ADMIN)).json())["data"]
    assert (today["output_tokens"], today["unpriced_requests"]) == (4, 0) and float(today["cost_usd"]) > 0
    alerts = [r for r in caplog.records if r.getMessage() == "usage alert threshold crossed"]
    assert len(alerts) == 1 and alerts[0].fields["scope"] == f"api-key:{key_id}"


async def test_an_error_answer_is_not_counted_as_an_unpriced_request(admin, gateway, client, view, fake_openai):
    key, _, slug = await setup(admin, view, fake_openai, vk_limits={"rate_limits": [{"type": "requests", "unit": "rpm", "value": 10}]})
    fake_openai.error = (500, {"error": {"message": "boom", "type": "server_error", "param": None, "code": None}})
    status, _ = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug})
    assert status == 500
    await charged(gateway)
    [today] = (await (await client.get(f"/v1/virtual-keys/{slug}/usage", headers=ADMIN)).json())["data"]
    assert (today["requests"], today["unpriced_requests"], today["cost_usd"]) == (1, 0, "0")


async def test_unreadable_stored_limits_refuse_the_request_rather_than_pass_it_unlimited(
    admin, gateway, client, view, fake_openai
):
    import dataclasses

    key, _, slug = await setup(admin, view, fake_openai)
    # A row edited by hand (the admin API would refuse this unit): never an unlimited key.
    record = await view.store.get_virtual_key(slug)
    await view.store.update_virtual_key(dataclasses.replace(
        record, rate_limits=({"type": "requests", "unit": "per-fortnight", "value": 1},)))
    await settled(view)
    status, body = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug})
    assert status == 500 and body["error"]["message"] != ""
    assert fake_openai.requests == []


async def test_a_credit_limit_prices_the_model_a_config_overrides(admin, client, view, fake_openai):
    key, _, slug = await setup(admin, view, fake_openai, key_limits={"usage_limits": {"credit_limit": 5}})
    config = {"virtual_key": slug, "override_params": {"model": "no-such-model-priced"}}
    status, body = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-config": orjson.dumps(config).decode()})
    assert status == 400 and body["error"]["code"] == "model_price_unknown"  # the body's gpt-4o is not what is called
    assert fake_openai.requests == []


async def test_a_credit_limit_refuses_a_request_naming_no_model(admin, client, view, fake_openai):
    key, _, slug = await setup(admin, view, fake_openai, key_limits={"usage_limits": {"credit_limit": 5}})
    status, body = await post_chat(client, {"x-portkey-api-key": key, "x-portkey-virtual-key": slug},
                                   {"messages": CHAT["messages"]})
    assert status == 400 and body["error"]["code"] == "model_price_unknown"
    assert fake_openai.requests == []


async def test_usage_of_an_unknown_key_is_404_and_a_backwards_range_400(admin, client, view, fake_openai):
    _, key_id, slug = await setup(admin, view, fake_openai)
    for path in ("/v1/api-keys/no-such-id/usage", "/v1/virtual-keys/no-such-slug/usage"):
        assert (await client.get(path, headers=ADMIN)).status == 404, path
    response = await client.get(f"/v1/api-keys/{key_id}/usage?from=2026-11-02&to=2026-11-01", headers=ADMIN)
    answer = await response.json()
    assert response.status == 400 and answer["error"]["param"] == "from"


@pytest.mark.parametrize("include_usage", [True, False])
async def test_a_cached_whole_answer_streamed_to_a_limited_key_has_usage_only_when_asked(
    admin, client, view, fake_openai, include_usage
):
    # The limits ask a stream for its usage whether or not the client did; a cached
    # whole answer replayed as a stream must follow the client's own asking.
    key, _, slug = await setup(admin, view, fake_openai, vk_limits={"rate_limits": [{"type": "tokens", "unit": "rpd", "value": 1000}]})
    headers = {"x-portkey-api-key": key,
               "x-portkey-config": orjson.dumps({"virtual_key": slug, "cache": {"mode": "simple", "max_age": 60}}).decode()}
    whole = await client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert whole.status == 200 and whole.headers["x-portkey-cache-status"] == "MISS"
    options = {"stream_options": {"include_usage": True}} if include_usage else {}
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": True, **options}, headers=headers)
    body = await response.read()
    assert response.status == 200 and response.headers["x-portkey-cache-status"] == "HIT"
    assert body.endswith(b"data: [DONE]\n\n") and len(fake_openai.requests) == 1
    events = [orjson.loads(e[6:]) for e in body.split(b"\n\n") if e.startswith(b"data: {")]
    usage_events = [(u["prompt_tokens"], u["completion_tokens"]) for u in (e["usage"] for e in events if not e["choices"])]
    assert usage_events == ([(2, 4)] if include_usage else [])
