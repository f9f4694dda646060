"""The response cache, simple mode in memory, through the real HTTP surface."""

from __future__ import annotations

import asyncio

import openai
import orjson
import pytest

from gateway.cache import RESPONSE_CACHE, Found
from gateway.settings import Settings
from tests.cache_client import CACHE, HELLO, chat, config_headers, counting_upstream, status_of  # noqa: F401 (the upstream fixture)
from tests.conftest import TEST_KEY


async def test_an_identical_request_is_answered_from_the_cache_byte_for_byte(client, upstream):
    headers = config_headers(upstream)
    first, first_body = await chat(client, headers)
    second, second_body = await chat(client, headers)
    assert (status_of(first), status_of(second)) == ("MISS", "HIT")
    assert second.status == 200 and second_body == first_body
    assert b"answer 1" in second_body and upstream.calls == 1
    # Headers of the live call are not replayed; those of the answer are.
    assert first.headers["x-request-id"] == "req_1" and "x-ratelimit-remaining-requests" in first.headers
    for live in ("x-request-id", "x-ratelimit-remaining-requests", "openai-processing-ms"):
        assert live not in second.headers
    assert second.headers["openai-version"] == "2020-10-01"
    assert second.headers["Content-Type"] == first.headers["Content-Type"]
    assert second.headers["x-portkey-trace-id"] != first.headers["x-portkey-trace-id"]


async def test_without_a_cache_config_the_status_is_disabled(client, upstream):
    headers = config_headers(upstream, cache=None)
    for _ in range(2):
        response, _ = await chat(client, headers)
        assert status_of(response) == "DISABLED"
    assert upstream.calls == 2


@pytest.mark.parametrize(
    "cache", ["simple", "SIMPLE", {"mode": "simple"}, {"mode": "simple", "maxAge": "120"}, "semantic"]
)
async def test_portkey_cache_forms(client, upstream, cache):
    headers = config_headers(upstream, cache=cache)
    statuses = [status_of((await chat(client, headers))[0]) for _ in range(2)]
    assert statuses == ["MISS", "HIT"] and upstream.calls == 1


@pytest.mark.parametrize(
    ("cache", "problem"),
    [
        ({"max_age": 60}, "config.cache.mode: must be defined"),
        ({"mode": "fuzzy"}, "config.cache.mode: must be one of"),
        ("always", "config.cache: must be one of"),
        ({"mode": "simple", "max_age": -5}, "config.cache.max_age: must be a positive number"),
        ({"mode": "simple", "max_age": "soon"}, "config.cache.max_age: must be a positive number"),
        (3, "config.cache: must be an object"),
    ],
)
async def test_a_bad_cache_config_is_a_400_naming_the_field(client, upstream, cache, problem):
    response, body = await chat(client, config_headers(upstream, cache=cache))
    assert response.status == 400
    assert problem in orjson.loads(body)["error"]["message"]
    assert upstream.calls == 0


async def test_a_target_can_turn_off_its_parents_cache(client, upstream):
    config = {
        "cache": CACHE,
        "strategy": {"mode": "single"},
        "targets": [{"provider": "openai", "api_key": TEST_KEY, "custom_host": upstream.url, "cache": "disabled"}],
    }
    headers = {"x-portkey-config": orjson.dumps(config).decode()}
    for _ in range(2):
        assert status_of((await chat(client, headers))[0]) == "DISABLED"
    assert upstream.calls == 2


async def test_force_refresh_skips_the_lookup_and_stores_the_fresh_answer(client, upstream):
    headers = config_headers(upstream)
    await chat(client, headers)
    refreshed, refreshed_body = await chat(client, {**headers, "x-portkey-cache-force-refresh": "true"})
    assert status_of(refreshed) == "REFRESH" and b"answer 2" in refreshed_body
    after, after_body = await chat(client, headers)
    assert status_of(after) == "HIT" and after_body == refreshed_body
    not_forced, _ = await chat(client, {**headers, "x-portkey-cache-force-refresh": "false"})
    assert status_of(not_forced) == "HIT" and upstream.calls == 2


async def test_cache_control_no_store_is_never_stored(client, upstream):
    headers = config_headers(upstream)
    first, _ = await chat(client, {**headers, "Cache-Control": "no-store"})
    second, _ = await chat(client, headers)
    assert (status_of(first), status_of(second)) == ("MISS", "MISS") and upstream.calls == 2
    third, _ = await chat(client, {**headers, "Cache-Control": "no-cache"})
    assert status_of(third) == "REFRESH" and upstream.calls == 3


async def test_an_answer_older_than_max_age_is_not_served(client, upstream, gateway):
    clock = [1000.0]
    gateway.app[RESPONSE_CACHE].clock = lambda: clock[0]
    await chat(client, config_headers(upstream))
    clock[0] += 30
    assert status_of((await chat(client, config_headers(upstream)))[0]) == "HIT"
    # A request that accepts less age than the entry has is a miss (and refreshes it).
    shorter = config_headers(upstream, cache={"mode": "simple", "max_age": 20})
    assert status_of((await chat(client, shorter))[0]) == "MISS"
    clock[0] += 61
    response, body = await chat(client, config_headers(upstream))
    assert status_of(response) == "MISS" and b"answer 3" in body



@pytest.mark.parametrize("settings", [Settings(cache_max_age=30)])
async def test_the_operators_max_age_caps_a_configs_longer_one(client, upstream, gateway):
    clock = [1000.0]
    gateway.app[RESPONSE_CACHE].clock = lambda: clock[0]
    headers = config_headers(upstream, cache={"mode": "simple", "max_age": 3600})
    await chat(client, headers)
    clock[0] += 31  # past --cache-max-age, well within the config's hour
    assert status_of((await chat(client, headers))[0]) == "MISS" and upstream.calls == 2


async def test_requests_that_differ_only_in_their_trace_id_share_an_answer(client, upstream):
    headers = config_headers(upstream)
    first, _ = await chat(client, {**headers, "x-portkey-trace-id": "trace-one"})
    second, _ = await chat(client, {**headers, "x-portkey-trace-id": "trace-two"})
    assert (status_of(first), status_of(second)) == ("MISS", "HIT") and upstream.calls == 1
    assert second.headers["x-portkey-trace-id"] == "trace-two"

async def test_key_order_and_whitespace_do_not_matter_other_differences_do(client, upstream):
    headers = {**config_headers(upstream), "Content-Type": "application/json"}
    one = b'{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}], "temperature": 0}'
    other = b'{"temperature":0,"messages":[{"content":"Hello","role":"user"}],"model":"gpt-4o-mini"}'
    first = await client.post("/v1/chat/completions", data=one, headers=headers)
    second = await client.post("/v1/chat/completions", data=other, headers=headers)
    assert (status_of(first), status_of(second)) == ("MISS", "HIT")
    warmer = other.replace(b'"temperature":0', b'"temperature":1')
    assert status_of(await client.post("/v1/chat/completions", data=warmer, headers=headers)) == "MISS"


async def test_answers_are_not_shared_across_provider_keys_or_gateway_keys(client, upstream):
    await chat(client, config_headers(upstream))
    other_key, _ = await chat(client, config_headers(upstream, key=TEST_KEY + "-other"))
    assert status_of(other_key) == "MISS"
    other_gateway_key, _ = await chat(client, {**config_headers(upstream), "x-portkey-api-key": "team-b"})
    assert status_of(other_gateway_key) == "MISS"
    namespaced, _ = await chat(client, {**config_headers(upstream), "x-portkey-cache-namespace": "user-7"})
    assert status_of(namespaced) == "MISS"
    assert status_of((await chat(client, config_headers(upstream)))[0]) == "HIT"
    assert upstream.calls == 4


@pytest.mark.parametrize("settings", [Settings(cache_shared=True)])
async def test_a_shared_namespace_shares_answers_across_keys(client, upstream):
    await chat(client, config_headers(upstream))
    other_key, _ = await chat(client, {**config_headers(upstream, key=TEST_KEY + "-other"), "x-portkey-api-key": "b"})
    assert status_of(other_key) == "HIT" and upstream.calls == 1


async def test_errors_are_never_cached(client, upstream):
    upstream.fail_next = [500]
    headers = config_headers(upstream)
    failed, _ = await chat(client, headers)
    assert failed.status == 500 and status_of(failed) == "MISS"
    fresh, _ = await chat(client, headers)
    assert fresh.status == 200 and status_of(fresh) == "MISS"
    assert status_of((await chat(client, headers))[0]) == "HIT"


async def test_a_hit_never_triggers_a_fallback_or_a_retry(client, upstream, make_fake):
    backup = await make_fake()
    config = {
        "strategy": {"mode": "fallback"},
        "retry": {"attempts": 2},
        "cache": CACHE,
        "targets": [
            {"provider": "openai", "api_key": TEST_KEY, "custom_host": upstream.url},
            {"provider": "openai", "api_key": TEST_KEY, "custom_host": backup.url},
        ],
    }
    headers = {"x-portkey-config": orjson.dumps(config).decode()}
    first, first_body = await chat(client, headers)
    upstream.fail_next = [503, 503, 503]  # the first target is down now: its cached answer still serves
    second, second_body = await chat(client, headers)
    assert status_of(second) == "HIT" and second_body == first_body
    assert second.headers["x-portkey-last-used-option-index"] == "config.targets[0]"
    assert second.headers["x-portkey-retry-attempt-count"] == "0"
    assert upstream.calls == 1 and backup.requests == []


def sse_events(body: bytes) -> list[bytes]:
    return [event for event in body.split(b"\n\n") if event]


async def test_a_stream_is_replayed_event_by_event_as_first_received(client, upstream, gateway):
    headers = config_headers(upstream)
    upstream.lockstep = asyncio.Queue()
    body = {"model": "gpt-4o-mini", "messages": HELLO, "stream": True}
    first = await client.post("/v1/chat/completions", json=body, headers=headers)
    first_events = []
    while event := await first.content.readuntil(b"\n\n"):
        first_events.append(event)  # each event arrives alone, then the upstream sends the next
        upstream.lockstep.put_nowait(None)
    first_body = b"".join(first_events)
    second, second_body = await chat(client, headers, stream=True)
    assert (status_of(first), status_of(second)) == ("MISS", "HIT")
    assert second.headers["Content-Type"].startswith("text/event-stream")
    assert second.headers["Cache-Control"] == "no-cache" and second.headers["X-Accel-Buffering"] == "no"
    assert sse_events(second_body) == sse_events(first_body)
    assert second_body == first_body and second_body.endswith(b"data: [DONE]\n\n")
    assert upstream.calls == 1
    # Kept as the pieces the upstream sent, one event each: replayed without re-chunking.
    store = gateway.app[RESPONSE_CACHE].store
    (entry, _, _), = store._entries.values()
    assert list(entry.chunks) == first_events and len(first_events) == 8


async def test_the_sdk_reads_a_replayed_stream(gateway, upstream):
    sdk = openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")), api_key="unused", default_headers=config_headers(upstream), max_retries=0
    )
    async with sdk:
        texts = []
        for _ in range(2):
            stream = await sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO, stream=True)
            texts.append("".join([c.choices[0].delta.content or "" async for c in stream if c.choices]))
        raw = await sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
        whole = raw.parse()
        raw_again = await sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=HELLO)
    assert texts == ["answer 1 for 1", "answer 1 for 1"]
    assert raw.headers["x-portkey-cache-status"] == "MISS" and raw_again.headers["x-portkey-cache-status"] == "HIT"
    assert raw_again.parse().model_dump() == whole.model_dump()
    assert upstream.calls == 2  # the stream flag is part of the key: a whole answer is its own entry


async def test_a_stream_cut_short_is_never_stored(client, upstream):
    headers = config_headers(upstream)
    upstream.die_after = 3
    broken, broken_body = await chat(client, headers, stream=True)
    assert status_of(broken) == "MISS" and b"[DONE]" not in broken_body
    upstream.die_after = None
    fresh, fresh_body = await chat(client, headers, stream=True)
    assert status_of(fresh) == "MISS" and b"answer" in fresh_body and fresh_body.endswith(b"[DONE]\n\n")
    assert status_of((await chat(client, headers, stream=True))[0]) == "HIT"


@pytest.mark.parametrize("stream", [False, True])
async def test_concurrent_identical_requests_leave_one_whole_entry(client, upstream, gateway, stream):
    upstream.gate = asyncio.Event()
    headers = config_headers(upstream)
    many = [asyncio.ensure_future(chat(client, headers, stream=stream)) for _ in range(6)]
    await upstream.wait_for_calls(6)  # all six in flight at once, none stored yet
    upstream.gate.set()
    answers = await asyncio.gather(*many)
    assert [status_of(response) for response, _ in answers] == ["MISS"] * 6
    bodies = {body for _, body in answers}
    assert len(bodies) == 6  # six different answers, each stored in turn
    hit, hit_body = await chat(client, headers, stream=stream)
    assert status_of(hit) == "HIT" and hit_body in bodies  # one of them, whole, never a mix
    assert len(gateway.app[RESPONSE_CACHE].store) == 1


async def test_hits_count_zero_tokens_in_the_access_line_and_the_metrics(client, upstream, access_lines):
    headers = config_headers(upstream)
    await chat(client, headers)
    await chat(client, headers)
    miss_line, hit_line = [record.fields for record in access_lines()][-2:]
    assert (miss_line["cache"], hit_line["cache"]) == ("MISS", "HIT")
    assert miss_line["usage"]["input"] == 5
    assert hit_line["usage"] == {"input": 0, "output": 0, "cache_read": 0, "cache_write": 0, "reasoning": 0}
    assert "attempts" not in hit_line and hit_line["option"] == "config"
    metrics = await (await client.get("/metrics")).text()
    assert 'gateway_cache_requests_total{status="HIT"} 1.0' in metrics
    assert 'gateway_cache_requests_total{status="MISS"} 1.0' in metrics


@pytest.mark.parametrize("settings", [Settings(cache_backend="off")])
async def test_cache_backend_off_disables_every_cache_config(client, upstream):
    for _ in range(2):
        assert status_of((await chat(client, config_headers(upstream)))[0]) == "DISABLED"
    assert upstream.calls == 2


@pytest.mark.parametrize("settings", [Settings(cache_memory_size=3000)])
async def test_the_memory_store_keeps_within_its_bytes(client, upstream, gateway):
    headers = config_headers(upstream)
    for number in range(8):
        await chat(client, headers, messages=[{"role": "user", "content": f"question {number}"}])
    store = gateway.app[RESPONSE_CACHE].store
    assert 0 < len(store) < 8 and store.used <= 3000
    # The most recent answers stayed; the first went.
    latest, _ = await chat(client, headers, messages=[{"role": "user", "content": "question 7"}])
    oldest, _ = await chat(client, headers, messages=[{"role": "user", "content": "question 0"}])
    assert (status_of(latest), status_of(oldest)) == ("HIT", "MISS")



@pytest.mark.parametrize(("path", "stream"), [("/v1/chat/completions", True), ("/v1/chat/completions", False),
                                             ("/v1/messages", True), ("/v1/messages", False)])
async def test_a_translated_answer_is_replayed_as_the_client_first_got_it(client, fake_anthropic, path, stream):
    config = {"provider": "anthropic", "api_key": "sk-ant-test-0123456789", "custom_host": fake_anthropic.url,
              "cache": "simple"}
    headers = {"x-portkey-config": orjson.dumps(config).decode()}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": HELLO, "stream": stream}
    first = await client.post(path, json=body, headers=headers)
    first_body = await first.read()
    second = await client.post(path, json=body, headers=headers)
    second_body = await second.read()
    assert first.status == 200 and (status_of(first), status_of(second)) == ("MISS", "HIT")
    assert second_body == first_body and len(fake_anthropic.requests) == 1
    assert second.headers["Content-Type"] == first.headers["Content-Type"]


class PartitionLookup:
    """A second mode through the seam, as the semantic mode will plug in: it finds any
    answer of the same partition (caller, route, target), whatever the body."""

    miss_status = "SEMANTIC MISS"

    def __init__(self) -> None:
        self.entries = {}

    async def find(self, query):
        entry = self.entries.get(query.key.partition)
        return None if entry is None else Found(entry, "SEMANTIC HIT")

    async def remember(self, query, entry):
        self.entries[query.key.partition] = entry


async def test_a_mode_plugs_in_as_a_lookup(client, upstream, gateway):
    gateway.app[RESPONSE_CACHE].lookups["semantic"] = PartitionLookup()
    headers = config_headers(upstream, cache={"mode": "semantic", "similarity_threshold": 0.9})
    first, first_body = await chat(client, headers, messages=[{"role": "user", "content": "What is the capital of France?"}])
    second, second_body = await chat(client, headers, messages=[{"role": "user", "content": "France's capital?"}])
    assert (status_of(first), status_of(second)) == ("SEMANTIC MISS", "SEMANTIC HIT")
    assert second_body == first_body and upstream.calls == 1
    metrics = await (await client.get("/metrics")).text()
    assert 'gateway_cache_requests_total{status="SEMANTIC HIT"} 1.0' in metrics


@pytest.mark.parametrize("include_usage", [False, True])
async def test_a_cached_whole_answer_serves_a_stream_request(gateway, upstream, include_usage):
    sdk = openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")), api_key="unused", default_headers=config_headers(upstream), max_retries=0
    )
    async with sdk:
        whole = await sdk.chat.completions.create(model="gpt-4o-mini", messages=HELLO, temperature=0)
        options = {"stream_options": {"include_usage": True}} if include_usage else {}
        raw = await sdk.chat.completions.with_raw_response.create(
            model="gpt-4o-mini", messages=HELLO, temperature=0, stream=True, **options
        )
        chunks = [chunk async for chunk in raw.parse()]
    assert raw.headers["x-portkey-cache-status"] == "HIT" and upstream.calls == 1
    assert raw.headers["Content-Type"].startswith("text/event-stream")
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == whole.choices[0].message.content
    assert {c.id for c in chunks} == {whole.id} and {c.created for c in chunks} == {whole.created}
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"
    usage = [c.usage for c in chunks if c.usage is not None]
    assert usage == ([whole.usage] if include_usage else [])


async def test_a_stream_of_another_protocol_is_not_made_from_a_whole_answer(client, fake_anthropic):
    config = {"provider": "anthropic", "api_key": "sk-ant-test-0123456789", "custom_host": fake_anthropic.url,
              "cache": "simple"}
    headers = {"x-portkey-config": orjson.dumps(config).decode()}
    body = {"model": "claude-sonnet-4-5", "max_tokens": 50, "messages": HELLO}
    await client.post("/v1/messages", json=body, headers=headers)
    streamed = await client.post("/v1/messages", json={**body, "stream": True}, headers=headers)
    await streamed.read()
    assert status_of(streamed) == "MISS" and len(fake_anthropic.requests) == 2
