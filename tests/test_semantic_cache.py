"""Semantic mode end to end: the official OpenAI SDK through the gateway, a fake chat
upstream that answers something new each call, and a fake embeddings upstream whose
vectors each test places."""

from __future__ import annotations

import asyncio

import openai
import orjson
import pytest
import redis.asyncio as aioredis

from gateway.cache import RESPONSE_CACHE
from gateway.cache.semantic.runtime import SEMANTIC_LOOKUP
from gateway.settings import Settings
from tests.cache_client import counting_upstream  # noqa: F401 (the upstream fixture)
from tests.conftest import TEST_KEY, GatewayTestServer
from tests.fakes.embeddings import FakeEmbeddings
from tests.fakes.serving import served

SEMANTIC = {"mode": "semantic", "max_age": 60}
QUESTION = "What is the capital of France?"
SIMILAR = "Which city is the capital of France?"
OTHER = "How do I bake sourdough bread?"
EMBEDDINGS_KEY = "sk-test-embeddings"


@pytest.fixture
async def embeddings(aiohttp_server):
    fake = FakeEmbeddings()
    await served(aiohttp_server, fake)
    fake.like(SIMILAR, QUESTION, 0.97)
    yield fake
    if fake.hang is not None:
        fake.hang.set()


def semantic_settings(embeddings, **settings) -> Settings:
    target = {"provider": "openai", "api_key": EMBEDDINGS_KEY, "custom_host": embeddings.url, "model": "text-embedding-3-small"}
    return Settings(semantic_cache_embeddings=orjson.dumps(target).decode(), semantic_cache_timeout=1.0, **settings)


@pytest.fixture
async def gateway(embeddings):
    async with GatewayTestServer(semantic_settings(embeddings)) as server:
        yield server


def config(upstream, cache=SEMANTIC, key=TEST_KEY) -> dict[str, str]:
    target = {"provider": "openai", "api_key": key, "custom_host": upstream.url, "cache": cache}
    return {"x-portkey-config": orjson.dumps(target).decode()}


@pytest.fixture
async def sdk(gateway, upstream):
    client = openai.AsyncOpenAI(
        base_url=str(gateway.make_url("/v1")), api_key="unused", default_headers=config(upstream), max_retries=0
    )
    yield client
    await client.close()


async def ask(sdk, text: str, *, headers=None, **params) -> tuple[str, str]:
    """(x-portkey-cache-status, the answer's text)."""
    params = {"model": "gpt-4o-mini", **params}
    raw = await sdk.chat.completions.with_raw_response.create(
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": text}],
        extra_headers=headers,
        **params,
    )
    return raw.headers["x-portkey-cache-status"], raw.parse().choices[0].message.content


async def test_a_similar_question_is_a_semantic_hit(sdk, upstream, embeddings):
    assert await ask(sdk, QUESTION) == ("SEMANTIC MISS", "answer 1 for 2")
    assert await ask(sdk, SIMILAR) == ("SEMANTIC HIT", "answer 1 for 2")
    assert upstream.calls == 1
    assert embeddings.texts == [QUESTION, SIMILAR]  # the last user message, nothing else


async def test_a_different_question_is_a_semantic_miss(sdk, upstream):
    await ask(sdk, QUESTION)
    assert await ask(sdk, OTHER) == ("SEMANTIC MISS", "answer 2 for 2")
    assert upstream.calls == 2


async def test_an_identical_question_is_an_exact_hit_without_an_embedding(sdk, upstream, embeddings):
    await ask(sdk, QUESTION)
    assert await ask(sdk, QUESTION) == ("HIT", "answer 1 for 2")
    assert embeddings.texts == [QUESTION]


async def test_the_config_sets_the_threshold(gateway, upstream, embeddings):
    embeddings.like("Capital of France, please", QUESTION, 0.9)  # below the default 0.95
    embeddings.like("France's capital city?", QUESTION, 0.9)
    strict, loose = (
        openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="unused", default_headers=headers, max_retries=0)
        for headers in (config(upstream), config(upstream, {**SEMANTIC, "similarity_threshold": 0.85}))
    )
    async with strict, loose:
        await ask(strict, QUESTION)
        assert await ask(strict, "Capital of France, please") == ("SEMANTIC MISS", "answer 2 for 2")
        assert await ask(loose, "France's capital city?") == ("SEMANTIC HIT", "answer 1 for 2")


@pytest.mark.parametrize("breakage", ["status", "hang", "garbage"])
async def test_embeddings_that_fail_are_a_miss_and_the_request_is_answered(sdk, upstream, embeddings, breakage):
    await ask(sdk, QUESTION)
    if breakage == "status":
        embeddings.status = 503
    elif breakage == "hang":
        embeddings.hang = asyncio.Event()
    else:
        embeddings.garbage = True
    assert await asyncio.wait_for(ask(sdk, SIMILAR), 10) == ("MISS", "answer 2 for 2")
    assert upstream.calls == 2


@pytest.mark.parametrize("params", [{"model": "gpt-4o"}, {"temperature": 0.2}], ids=["model", "parameter"])
async def test_another_model_or_parameter_is_never_a_semantic_hit(sdk, upstream, params):
    await ask(sdk, QUESTION)
    assert await ask(sdk, SIMILAR, **params) == ("SEMANTIC MISS", "answer 2 for 2")


async def test_another_caller_never_gets_an_answer_cached_for_someone_else(gateway, upstream, embeddings):
    clients = [
        openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="unused", default_headers=config(upstream, key=key),
                           max_retries=0)
        for key in (TEST_KEY, TEST_KEY + "-other-team")
    ]
    async with clients[0], clients[1]:
        await ask(clients[0], QUESTION)
        assert await ask(clients[1], SIMILAR) == ("SEMANTIC MISS", "answer 2 for 2")
        assert await ask(clients[1], QUESTION) == ("SEMANTIC HIT", "answer 2 for 2")


async def test_a_namespace_partitions_the_semantic_cache(sdk):
    await ask(sdk, QUESTION, headers={"x-portkey-cache-namespace": "tenant-a"})
    assert (await ask(sdk, SIMILAR, headers={"x-portkey-cache-namespace": "tenant-b"}))[0] == "SEMANTIC MISS"


async def test_a_request_with_an_image_is_not_compared(sdk, upstream, embeddings):
    await ask(sdk, QUESTION)
    content = [{"type": "text", "text": SIMILAR}, {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}}]
    raw = await sdk.chat.completions.with_raw_response.create(model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    assert raw.headers["x-portkey-cache-status"] == "MISS"
    assert embeddings.texts == [QUESTION]


async def test_force_refresh_stores_the_fresh_answer_for_similar_questions(gateway, sdk, upstream):
    refresh = {"x-portkey-cache-force-refresh": "true"}
    assert await ask(sdk, QUESTION, headers=refresh) == ("REFRESH", "answer 1 for 2")
    await gateway.app[SEMANTIC_LOOKUP].settled()  # not looked up: embedded in the background
    assert await ask(sdk, SIMILAR) == ("SEMANTIC HIT", "answer 1 for 2")
    # Refreshed again: the same vector now leads to the fresh answer.
    assert await ask(sdk, QUESTION, headers=refresh) == ("REFRESH", "answer 2 for 2")
    await gateway.app[SEMANTIC_LOOKUP].settled()
    assert await ask(sdk, SIMILAR) == ("SEMANTIC HIT", "answer 2 for 2")


async def test_an_error_is_never_stored(sdk, upstream):
    upstream.fail_next = [500]
    with pytest.raises(openai.InternalServerError):
        await ask(sdk, QUESTION)
    assert await ask(sdk, SIMILAR) == ("SEMANTIC MISS", "answer 2 for 2")


async def test_an_answer_older_than_max_age_is_not_served(gateway, sdk, upstream, embeddings):
    embeddings.like("Name the capital of France.", QUESTION, 0.97)
    clock = [1000.0]
    gateway.app[RESPONSE_CACHE].clock = lambda: clock[0]
    await ask(sdk, QUESTION)
    clock[0] += 30
    # A request that accepts less age than the answer has is a miss.
    younger = config(upstream, {"mode": "semantic", "max_age": 20})
    assert await ask(sdk.with_options(default_headers=younger), SIMILAR) == ("SEMANTIC MISS", "answer 2 for 2")
    clock[0] += 31
    assert await ask(sdk, "Name the capital of France.") == ("SEMANTIC MISS", "answer 3 for 2")  # all expired now


async def test_a_stream_is_replayed_event_by_event_for_a_similar_question(gateway, upstream, aiohttp_client):
    client = await aiohttp_client(gateway)

    async def stream(text: str):
        body = {"model": "gpt-4o-mini", "stream": True, "messages": [{"role": "user", "content": text}]}
        response = await client.post("/v1/chat/completions", json=body, headers=config(upstream))
        chunks = [chunk async for chunk in response.content.iter_any()]
        return response.headers["x-portkey-cache-status"], b"".join(chunks)

    first_status, first = await stream(QUESTION)
    second_status, second = await stream(SIMILAR)
    assert (first_status, second_status) == ("SEMANTIC MISS", "SEMANTIC HIT")
    assert second == first and first.endswith(b"data: [DONE]\n\n") and upstream.calls == 1
    assert [event for event in second.split(b"\n\n") if event] == [event for event in first.split(b"\n\n") if event]
    # A whole answer is a bucket apart from a stream (the stream flag is part of the body).
    assert (await stream_whole(client, upstream, SIMILAR)) == "SEMANTIC MISS"


async def stream_whole(client, upstream, text):
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": text}]}
    response = await client.post("/v1/chat/completions", json=body, headers=config(upstream))
    await response.read()
    return response.headers["x-portkey-cache-status"]


async def test_a_bad_threshold_is_a_400_naming_the_field(sdk, upstream):
    sdk = sdk.with_options(default_headers=config(upstream, {**SEMANTIC, "similarity_threshold": 1.5}))
    with pytest.raises(openai.BadRequestError) as raised:
        await ask(sdk, QUESTION)
    assert "config.cache.similarity_threshold" in raised.value.message
    assert upstream.calls == 0


async def test_a_fleet_shares_semantic_hits_through_redis(embeddings, upstream, redis_server):
    settings = semantic_settings(embeddings, redis_url=redis_server.url)
    async with GatewayTestServer(settings) as one, GatewayTestServer(settings) as two:
        clients = [
            openai.AsyncOpenAI(base_url=str(g.make_url("/v1")), api_key="unused", default_headers=config(upstream), max_retries=0)
            for g in (one, two)
        ]
        async with clients[0], clients[1]:
            assert await ask(clients[0], QUESTION) == ("SEMANTIC MISS", "answer 1 for 2")
            await one.app[RESPONSE_CACHE].settled()  # Redis is written after the answer went out
            assert await ask(clients[1], SIMILAR) == ("SEMANTIC HIT", "answer 1 for 2")
            assert upstream.calls == 1
        # The vectors and the answers went through each gateway's one Redis client.
        inspector = aioredis.Redis.from_url(redis_server.url, client_name="inspector")
        try:
            connections = [c for c in await inspector.client_list() if c["name"] != "inspector"]
        finally:
            await inspector.aclose()
        assert len(connections) == 2, connections


async def test_a_redis_that_is_down_is_a_miss_and_the_request_is_answered(embeddings, upstream, redis_server):
    settings = semantic_settings(embeddings, redis_url=redis_server.url)
    async with GatewayTestServer(settings) as gateway:
        client = openai.AsyncOpenAI(base_url=str(gateway.make_url("/v1")), api_key="unused",
                                    default_headers=config(upstream), max_retries=0)
        async with client:
            await ask(client, QUESTION)
            await gateway.app[RESPONSE_CACHE].settled()
            await redis_server.kill()
            assert await asyncio.wait_for(ask(client, SIMILAR), 10) == ("MISS", "answer 2 for 2")


async def test_concurrent_similar_questions_each_store_a_whole_answer(gateway, sdk, upstream, embeddings):
    questions = [f"{SIMILAR} ({number})" for number in range(6)]
    for question in questions:
        embeddings.like(question, QUESTION, 0.97)
    upstream.gate = asyncio.Event()
    asking = asyncio.gather(*(ask(sdk, question) for question in questions))
    await upstream.wait_for_calls(len(questions))  # all in flight: none can hit another
    upstream.gate.set()
    answers = await asyncio.wait_for(asking, 10)
    assert sorted(answers) == sorted(("SEMANTIC MISS", f"answer {n} for 2") for n in range(1, 7))
    assert len(gateway.app[SEMANTIC_LOOKUP].index) == len(questions)
    status, text = await ask(sdk, QUESTION)
    assert status == "SEMANTIC HIT" and text in {f"answer {n} for 2" for n in range(1, 7)}
    assert upstream.calls == len(questions)


async def test_anthropic_messages_through_the_anthropic_sdk(gateway, embeddings, aiohttp_server):
    import anthropic

    from tests.fakes.anthropic import FakeAnthropic

    fake = FakeAnthropic()
    server = await aiohttp_server(fake.app())
    target = {"provider": "anthropic", "api_key": "sk-ant-test-0123456789", "custom_host": str(server.make_url("/v1")),
              "cache": SEMANTIC}
    client = anthropic.AsyncAnthropic(base_url=str(gateway.make_url("/")).rstrip("/"), api_key="unused", max_retries=0,
                                      default_headers={"x-portkey-config": orjson.dumps(target).decode()})
    async with client:
        answers = []
        for text in (QUESTION, SIMILAR):
            raw = await client.messages.with_raw_response.create(
                model="claude-test-1", max_tokens=50, system="Be brief.", messages=[{"role": "user", "content": text}]
            )
            answers.append((raw.headers["x-portkey-cache-status"], (await raw.parse()).content[0].text))
    assert [status for status, _ in answers] == ["SEMANTIC MISS", "SEMANTIC HIT"]
    assert answers[1][1] == answers[0][1] and len(fake.requests) == 1


@pytest.mark.parametrize("embeddings_up", [True, False], ids=["embeddings-up", "embeddings-down"])
async def test_a_whole_answer_serves_the_same_question_streamed(gateway, upstream, embeddings, aiohttp_client, embeddings_up):
    client = await aiohttp_client(gateway)
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": QUESTION}]}
    whole = await client.post("/v1/chat/completions", json=body, headers=config(upstream))
    assert whole.headers["x-portkey-cache-status"] == "SEMANTIC MISS" and b"answer 1" in await whole.read()
    if not embeddings_up:
        embeddings.status = 503  # the semantic search cannot run: the exact whole answer still serves
    streamed = await client.post("/v1/chat/completions", json={**body, "stream": True}, headers=config(upstream))
    text = await streamed.read()
    assert streamed.headers["x-portkey-cache-status"] == "HIT"
    assert b"answer 1" in text and text.endswith(b"data: [DONE]\n\n") and upstream.calls == 1
