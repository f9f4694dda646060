"""The cache's parts alone: the config forms, the entry encoding, the memory store, the key."""

from __future__ import annotations

import orjson
import pytest
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.cache.as_stream import as_stream
from gateway.cache.entry import BadEntry, CachedAnswer
from gateway.cache.key import cache_key
from gateway.cache.recording import Recording, recorded_entry
from gateway.cache.stores import MemoryStore
from gateway.config import Target
from gateway.config.cache import CACHE_DISABLED, CachePolicy, parse_cache
from gateway.config.problems import Problems
from gateway.providers.base import Call
from gateway.streaming.result import RelayResult


@pytest.mark.parametrize(
    ("value", "policy"),
    [
        ("simple", CachePolicy("simple")),
        ("Semantic", CachePolicy("semantic")),
        ({"mode": "simple", "max_age": 60}, CachePolicy("simple", 60)),
        ({"mode": "simple", "max_age": "90"}, CachePolicy("simple", 90)),
        ({"mode": "simple", "max_age": 2.5}, CachePolicy("simple", 2)),
        ("DISABLED", CACHE_DISABLED),
        ({"mode": "disabled"}, CACHE_DISABLED),
    ],
)
def test_cache_forms(value, policy):
    problems = Problems()
    assert parse_cache(value, "config.cache", problems) == policy
    assert problems.errors == []


def test_other_keys_are_kept_for_the_mode_that_reads_them():
    policy = parse_cache({"mode": "semantic", "similarity_threshold": 0.9}, "config.cache", Problems())
    assert dict(policy.options) == {"similarity_threshold": 0.9}


def entry(*chunks: bytes) -> CachedAnswer:
    return CachedAnswer(200, (("Content-Type", "text/event-stream"), ("openai-version", "x")), chunks, 1700000000.5)


@pytest.mark.parametrize("chunks", [(), (b"{}",), (b"data: 1\n\n", b"data: 2\n\n", b"data: [DONE]\n\n"), (b"x" * 5000,)])
def test_an_entry_survives_its_encoding(chunks):
    original = entry(*chunks)
    blob = original.encode()
    assert blob[4:5] == (b"\x01" if sum(map(len, chunks)) > 1000 else b"\x00")
    assert CachedAnswer.decode(blob) == original


@pytest.mark.parametrize("blob", [b"", b"junk", b"GWC1\x02", b"GWC1\x01zz", b"GWC1\x00\x00\x00\x00\x09{}", entry(b"abc").encode()[:-1]])
def test_damaged_bytes_are_a_bad_entry(blob):
    with pytest.raises(BadEntry):
        CachedAnswer.decode(blob)


async def test_the_memory_store_evicts_the_least_recently_used_first():
    store = MemoryStore(max_bytes=3 * entry(b"x" * 100).size, max_entry=10_000)
    for key in "abc":
        await store.put(key, entry(b"x" * 100), 60)
    assert await store.get("a") is not None  # a is now the most recent
    await store.put("d", entry(b"x" * 100), 60)
    assert [await store.get(key) is not None for key in "abcd"] == [True, False, True, True]
    assert store.used <= store.max_bytes


async def test_the_memory_store_forgets_expired_and_oversized_entries():
    now = [0.0]
    store = MemoryStore(max_bytes=10_000, max_entry=1_000, clock=lambda: now[0])
    await store.put("old", entry(b"x"), 10)
    await store.put("huge", entry(b"x" * 2000), 10)
    assert await store.get("huge") is None
    now[0] = 10.0
    assert await store.get("old") is None and store.used == 0


async def test_the_memory_store_counts_a_replaced_entry_once():
    store = MemoryStore(max_bytes=10_000, max_entry=10_000)
    for _ in range(3):
        await store.put("same", entry(b"x" * 100), 60)
    assert len(store) == 1 and store.used == entry(b"x" * 100).size


def key_of(body, *, api_key="sk-1", headers=(), shared=False, target=None, method="POST"):
    call = Call(method, "chat/completions", "", CIMultiDictProxy(CIMultiDict(headers)), json=body)
    return cache_key(call, target or Target("openai", api_key=api_key), call.headers, shared=shared)


def test_the_key_holds_no_secret_and_follows_the_rules():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    key = key_of(body, api_key="sk-secret-1")
    assert "secret" not in key.digest and len(key.digest) == 40
    assert key_of({"messages": body["messages"], "model": "m"}, api_key="sk-secret-1") == key
    assert key_of(body, api_key="sk-secret-2").digest != key.digest
    assert key_of(body, api_key="sk-secret-1", headers={"x-portkey-api-key": "team"}).digest != key.digest
    assert key_of(body, api_key="a", shared=True) == key_of(body, api_key="b", shared=True)
    assert key_of(body, headers={"anthropic-beta": "tools"}).digest != key_of(body).digest
    assert key_of(body, target=Target("groq", api_key="sk-1")).digest != key_of(body).digest
    assert key_of({**body, "stream": True}).digest != key_of(body).digest
    # The partition leaves the body out: a semantic lookup searches one partition.
    assert key_of({**body, "temperature": 1}).partition == key_of(body).partition
    assert key_of(body, method="GET") is None and key_of(None) is None



def test_the_key_tells_apart_what_changes_the_answer():
    """Each of these reaches the upstream and can change its answer: two requests that
    differ only there must not share a cached answer."""
    body = {"model": "m", "input": "hi"}

    def digest(endpoint="embeddings", target=None, headers=()):
        call = Call("POST", endpoint, "", CIMultiDictProxy(CIMultiDict(headers)), json=body)
        return cache_key(call, target or Target("openai", api_key="sk-1"), call.headers, shared=False).digest

    base = digest()
    assert digest(endpoint="moderations") != base
    assert digest(target=Target("openai", api_key="sk-1", custom_host="http://vllm-a:8000/v1")) != digest(
        target=Target("openai", api_key="sk-1", custom_host="http://vllm-b:8000/v1")
    )
    azure = {"resource_name": "r", "api_version": "2024-10-21"}
    assert digest(target=Target("azure-openai", api_key="k", options={**azure, "deployment_id": "gpt-4o"})) != digest(
        target=Target("azure-openai", api_key="k", options={**azure, "deployment_id": "gpt-35"})
    )
    assert digest(headers={"anthropic-version": "2023-06-01"}) != base
    # Not the trace id: it differs on every call.
    assert digest(headers={"x-portkey-trace-id": "one"}) == digest(headers={"x-portkey-trace-id": "two"}) == base


def relayed(**result) -> RelayResult:
    recording = Recording(limit=100)
    for chunk in (b"data: 1\n\n", b"data: 2\n\n"):
        recording.append(chunk)
    return RelayResult(recording=recording, **result)


def test_only_a_stream_that_ended_cleanly_on_an_events_end_is_recorded():
    stream = web.StreamResponse(status=200, headers={"Content-Type": "text/event-stream"})
    assert recorded_entry(stream, relayed(), 1.0).chunks == (b"data: 1\n\n", b"data: 2\n\n")
    # The client left: what it got is not the answer, even cut at an event's end.
    assert recorded_entry(stream, relayed(client_gone=True), 1.0) is None
    unfinished = relayed()
    unfinished.recording.append(b"data: 3")
    assert recorded_entry(stream, unfinished, 1.0) is None


def test_a_whole_answer_over_the_entry_limit_is_not_recorded():
    limit = relayed().recording.limit
    assert recorded_entry(web.Response(body=b"x" * limit), relayed(), 1.0) is not None
    assert recorded_entry(web.Response(body=b"x" * (limit + 1)), relayed(), 1.0) is None

def test_cache_settings():
    from gateway.settings import SettingsError, parse_settings

    settings = parse_settings(
        ["--cache-memory-size", "1MiB", "--cache-shared", "on"], {"GATEWAY_CACHE_MAX_AGE": "60", "GATEWAY_CACHE_BACKEND": "Memory"}
    )
    assert (settings.cache_memory_size, settings.cache_shared, settings.cache_max_age, settings.cache_backend) == (
        1024 * 1024, True, 60, "memory"
    )
    with pytest.raises(SettingsError, match="--cache-backend redis: needs --redis"):
        parse_settings(["--cache-backend", "redis"], {})
    with pytest.raises(SettingsError, match="GATEWAY_CACHE_BACKEND: must be auto, memory, redis or off"):
        parse_settings([], {"GATEWAY_CACHE_BACKEND": "disk"})


def whole(answer: dict, status: int = 200) -> CachedAnswer:
    return CachedAnswer(status, (("Content-Type", "application/json"), ("openai-version", "v")), (orjson.dumps(answer),), 1.0)


TOOL_ANSWER = {
    "id": "chatcmpl-9", "object": "chat.completion", "created": 7, "model": "gpt-4o", "system_fingerprint": "fp",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "logprobs": None, "message": {
        "role": "assistant", "content": None,
        "tool_calls": [{"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":1}"}}]}}],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


def test_a_whole_answer_with_tool_calls_as_a_stream():
    stream = as_stream(whole(TOOL_ANSWER), include_usage=True)
    assert stream.headers[0] == ("Content-Type", "text/event-stream; charset=utf-8") and ("openai-version", "v") in stream.headers
    events = [orjson.loads(chunk[6:]) for chunk in stream.chunks[:-1]]
    assert stream.chunks[-1] == b"data: [DONE]\n\n"
    assert events[0]["choices"][0]["delta"]["tool_calls"] == [{"index": 0, **TOOL_ANSWER["choices"][0]["message"]["tool_calls"][0]}]
    assert events[0]["choices"][0]["delta"]["role"] == "assistant" and "content" not in events[0]["choices"][0]["delta"]
    assert events[1]["choices"][0]["finish_reason"] == "tool_calls"
    assert events[2] == {"id": "chatcmpl-9", "created": 7, "model": "gpt-4o", "system_fingerprint": "fp",
                         "object": "chat.completion.chunk", "choices": [], "usage": TOOL_ANSWER["usage"]}
    assert {event["id"] for event in events} == {"chatcmpl-9"} and events[0]["usage"] is None


@pytest.mark.parametrize("entry", [
    whole({"object": "embedding", "data": []}),
    whole({"object": "response", "choices": [{"index": 0, "message": {"role": "assistant", "content": "x"}}]}),
    whole({"object": "chat.completion", "choices": [{"index": 0}]}),
    whole(TOOL_ANSWER, status=201),
    CachedAnswer(200, (), (b"not json",), 1.0),
    CachedAnswer(200, (), (b"data: 1\n\n", b"data: 2\n\n"), 1.0),
])
def test_what_is_not_a_chat_completion_stays_a_miss(entry):
    assert as_stream(entry, include_usage=False) is None
