"""Embeddings for the semantic cache through the gateway's own providers and session.

Every failure is None (a miss), logged at most once a minute, never with a key."""

from __future__ import annotations

import asyncio
import base64
import logging
import struct

import numpy as np
import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from gateway.app import create_app
from gateway.cache.semantic.embedder import MAX_ANSWER_BYTES, Embedder, _first_vector
from gateway.cache.semantic.embeddings_target import parse_embeddings_target
from gateway.upstream import TRANSPORT
from tests.fakes.cohere import API_KEY_PREFIX as COHERE_PREFIX
from tests.fakes.cohere import FakeCohere
from tests.fakes.embeddings import FakeEmbeddings
from tests.fakes.serving import served

KEY = "sk-test-embeddings-secret"


@pytest.fixture
async def fake_embeddings(aiohttp_server):
    return await served(aiohttp_server, FakeEmbeddings())


@pytest.fixture
async def app():
    """The gateway's app with its cleanup contexts run (the pooled session)."""
    async with TestServer(create_app()) as server:
        yield server.app


def embedder(app, config: dict, timeout: float = 5.0) -> Embedder:
    spec = parse_embeddings_target(orjson.dumps(config).decode())
    return Embedder(spec, app, lambda: app[TRANSPORT], lambda: None, timeout=timeout)


def openai_target(fake, **extra) -> dict:
    return {"provider": "openai", "api_key": KEY, "custom_host": fake.url, "model": "text-embedding-3-small", **extra}


async def test_a_text_is_embedded_through_the_provider_as_a_unit_vector(app, fake_embeddings):
    vector = await embedder(app, openai_target(fake_embeddings)).embed("What is the capital of France?")
    expected = np.array(fake_embeddings.vector("What is the capital of France?"), dtype=np.float32)
    np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), rtol=1e-5)
    assert float(np.linalg.norm(vector)) == pytest.approx(1.0, abs=1e-6)
    body, headers = fake_embeddings.requests[0]
    assert body == {"model": "text-embedding-3-small", "input": "What is the capital of France?", "encoding_format": "float"}
    assert headers["Authorization"] == f"Bearer {KEY}"


async def test_dimensions_and_override_params_reach_the_provider(app, fake_embeddings):
    target = openai_target(fake_embeddings, dimensions=16, override_params={"user": "semantic-cache"})
    vector = await embedder(app, target).embed("hello")
    assert vector.shape == (16,)
    assert fake_embeddings.requests[0][0]["dimensions"] == 16
    assert fake_embeddings.requests[0][0]["user"] == "semantic-cache"


async def test_a_translating_provider_works_too(app, aiohttp_server):
    fake = FakeCohere()
    server = await aiohttp_server(fake.app())
    target = {"provider": "cohere", "api_key": COHERE_PREFIX + "-1", "custom_host": str(server.make_url("")).rstrip("/"),
              "model": "embed-v4.0"}
    vector = await embedder(app, target).embed("hello there")
    assert vector is not None and vector.shape == (4,)
    assert fake.last.path == "/v2/embed"


@pytest.mark.parametrize(
    "breakage, reason",
    [("status", "status 503"), ("garbage", "answer is not an embeddings list"), ("key", "status 401")],
)
async def test_a_failed_call_is_none_and_logged_without_the_key(app, fake_embeddings, caplog, breakage, reason):
    target = openai_target(fake_embeddings)
    if breakage == "status":
        fake_embeddings.status = 503
    elif breakage == "garbage":
        fake_embeddings.garbage = True
    else:
        target["api_key"] = "wrong-secret-key"
    caplog.set_level(logging.WARNING, "gateway.cache.semantic")
    assert await embedder(app, target).embed("hello") is None
    [record] = caplog.records
    assert record.fields["reason"] == reason
    logged = caplog.text + repr(record.__dict__)
    assert KEY not in logged and "wrong-secret-key" not in logged and "hello" not in logged


async def test_an_embeddings_upstream_that_hangs_is_a_miss_after_the_timeout(app, fake_embeddings, caplog):
    fake_embeddings.hang = asyncio.Event()
    caplog.set_level(logging.WARNING, "gateway.cache.semantic")
    try:
        vector = await asyncio.wait_for(embedder(app, openai_target(fake_embeddings), timeout=0.2).embed("hi"), 5)
    finally:
        fake_embeddings.hang.set()
    assert vector is None
    assert caplog.records[0].fields["reason"] == "no answer within 0.2s"


async def answering(aiohttp_server, body: bytes) -> dict:
    """An embeddings target whose upstream answers ``body`` (200, JSON) to every call."""

    async def embeddings(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    upstream = web.Application()
    upstream.router.add_post("/v1/embeddings", embeddings)
    server = await aiohttp_server(upstream)
    return {"provider": "openai", "api_key": KEY, "custom_host": str(server.make_url("/v1")), "model": "m"}


@pytest.mark.parametrize(
    "body, reason",
    [
        (orjson.dumps({"data": [{"embedding": [1.0, 2.0]}]}) + b" " * MAX_ANSWER_BYTES,
         f"answer larger than {MAX_ANSWER_BYTES} bytes"),
        (orjson.dumps({"data": [{"embedding": [0.0, 0.0]}]}), "answer's embedding is not a usable vector"),
    ],
    ids=["past-the-size-bound", "all-zeros"],
)
async def test_an_answer_that_cannot_be_used_is_a_miss(app, aiohttp_server, caplog, body, reason):
    target = await answering(aiohttp_server, body)
    caplog.set_level(logging.WARNING, "gateway.cache.semantic")
    assert await embedder(app, target).embed("hi") is None
    assert caplog.records[0].fields["reason"] == reason


async def test_an_unreachable_upstream_is_a_miss(app, unused_tcp_port):
    target = {"provider": "openai", "api_key": KEY, "custom_host": f"http://127.0.0.1:{unused_tcp_port}/v1", "model": "m"}
    assert await embedder(app, target).embed("hi") is None


async def test_failures_are_logged_at_most_once_a_minute(app, fake_embeddings, caplog):
    fake_embeddings.status = 500
    caplog.set_level(logging.WARNING, "gateway.cache.semantic")
    embeddings = embedder(app, openai_target(fake_embeddings))
    for _ in range(3):
        assert await embeddings.embed("hi") is None
    assert len(caplog.records) == 1
    assert embeddings.failures == 3


def test_a_base64_embedding_is_read_as_float32s():
    payload = base64.b64encode(struct.pack("<2f", 3.0, 4.0)).decode()
    vector = _first_vector(orjson.dumps({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": payload}]}))
    np.testing.assert_allclose(vector, [0.6, 0.8], rtol=1e-6)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("nope", "not a JSON object"),
        ("[]", "must be a JSON object"),
        ('{"model": "m"}', "provider (or virtual_key): required"),
        ('{"provider": "openai"}', "model: required"),
        ('{"provider": "openai", "model": "m", "dimensions": 0}', "dimensions: must be a positive whole number"),
        ('{"provider": "no-such", "model": "m"}', "unknown provider 'no-such'"),
        ('{"strategy": {"mode": "fallback"}, "targets": [], "model": "m"}', "must be one target"),
    ],
)
def test_a_bad_embeddings_target_is_refused_naming_the_problem(text, problem):
    with pytest.raises(ValueError, match=None) as raised:
        parse_embeddings_target(text)
    assert problem in str(raised.value)


def test_the_fingerprint_names_the_model_but_never_the_key():
    spec = parse_embeddings_target(
        '{"provider": "openai", "apiKey": "sk-secret", "model": "text-embedding-3-small", "dimensions": 256}'
    )
    assert "sk-secret" not in spec.fingerprint
    assert "text-embedding-3-small" in spec.fingerprint and "256" in spec.fingerprint
    assert spec.config == {"provider": "openai", "api_key": "sk-secret"}


async def test_a_virtual_key_is_resolved_from_the_store_and_follows_its_rotation(tmp_path, fake_embeddings):
    import portkey_ai

    from gateway.middlewares.keys import store_view
    from gateway.settings import Settings
    from gateway.store.runtime import STORE_RUNTIME

    admin_key = "admin-key-0123456789abcdef"
    (tmp_path / "admin.key").write_text(admin_key + "\n")
    (tmp_path / "master.key").write_text("a master key of more than thirty-two bytes, for tests\n")
    settings = Settings(store=str(tmp_path / "gateway.db"), admin_key_file=str(tmp_path / "admin.key"),
                        master_key_file=str(tmp_path / "master.key"))
    async with TestServer(create_app(settings)) as server:
        app = server.app
        view = app[STORE_RUNTIME].view

        async def settled():
            version = await view.store.version()
            await view.wait_until(lambda v: v.current.version == version, timeout=5)

        admin = portkey_ai.AsyncPortkey(api_key=admin_key, base_url=str(server.make_url("/v1")), max_retries=0)
        async with admin:
            await admin.virtual_keys.create(name="emb", provider="openai", key=KEY, slug="emb", custom_host=fake_embeddings.url)
            await settled()
            spec = parse_embeddings_target('{"virtual_key": "emb", "model": "text-embedding-3-small"}')
            embeddings = Embedder(spec, app, lambda: app[TRANSPORT], lambda: store_view(app), timeout=5)
            assert await embeddings.embed("hello") is not None
            assert fake_embeddings.requests[-1][1]["Authorization"] == f"Bearer {KEY}"
            await admin.virtual_keys.update(slug="emb", key="sk-test-rotated")
            await settled()
            assert await embeddings.embed("hello") is not None
            assert fake_embeddings.requests[-1][1]["Authorization"] == "Bearer sk-test-rotated"
            await admin.virtual_keys.delete(slug="emb")
            await settled()
            assert await embeddings.embed("hello") is None  # a deleted credential: a miss, not an error
