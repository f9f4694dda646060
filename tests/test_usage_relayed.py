"""Token usage in the access line for answers the gateway did not write itself: Gemini's
and Cohere's native answers relayed as bytes, and their translated whole answers and
embeddings (whose counts are not where OpenAI puts them)."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from gateway.usage import Usage
from tests.fakes.cohere import API_KEY_PREFIX as COHERE_KEY_PREFIX
from tests.providers.cohere.conftest import COHERE_KEY, fake_cohere  # noqa: F401 (fixture)
from tests.providers.google.conftest import GEMINI_KEY, gemini_headers  # noqa: F401 (a fixture)
from tests.test_usage import GEMINI_EXPECTED, GEMINI_METADATA, GEMINI_SSE

assert COHERE_KEY.startswith(COHERE_KEY_PREFIX)

GENERATE = {"contents": [{"role": "user", "parts": [{"text": "hello there"}]}]}
# generateContent as Google sends it: pretty-printed, model under modelVersion.
GEMINI_WHOLE = json.dumps(
    {
        "candidates": [{"content": {"parts": [{"text": "hi"}], "role": "model"}, "finishReason": "STOP", "index": 0}],
        "usageMetadata": GEMINI_METADATA,
        "modelVersion": "gemini-2.5-flash",
        "responseId": "abc",
    },
    indent=2,
).encode()


def usage_of(line) -> Usage:
    return Usage(**line.fields["usage"])


async def native_gemini(aiohttp_server, release_rest: asyncio.Event | None = None):
    """A Gemini upstream answering its own routes; a stream comes in two writes, the
    second once ``release_rest`` is set (cut inside the last usageMetadata)."""
    cut = GEMINI_SSE.rindex(b'"usageMetadata"') + 9

    async def generate(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.match_info["method"] == "generateContent":
            return web.Response(body=GEMINI_WHOLE, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(GEMINI_SSE[:cut])
        if release_rest is not None:
            await release_rest.wait()
        await response.write(GEMINI_SSE[cut:])
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1beta/models/{model}:{method}", generate)
    server = await aiohttp_server(app)
    return {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": str(server.make_url("/v1beta")),
        "Authorization": "Bearer any",
    }, cut


async def test_gemini_native_whole_answer_relayed_as_bytes(client, aiohttp_server, access_lines):
    headers, _ = await native_gemini(aiohttp_server)
    response = await client.post("/v1/models/gemini-2.5-flash:generateContent", json=GENERATE, headers=headers)
    assert response.status == 200
    assert await response.read() == GEMINI_WHOLE
    [line] = access_lines()
    assert usage_of(line) == GEMINI_EXPECTED
    assert line.fields["model"] == "gemini-2.5-flash"


async def test_gemini_native_stream_relayed_byte_for_byte(client, aiohttp_server, access_lines):
    release = asyncio.Event()
    headers, cut = await native_gemini(aiohttp_server, release)
    response = await client.post(
        "/v1/models/gemini-2.5-flash:streamGenerateContent?alt=sse", json=GENERATE, headers=headers
    )
    assert response.status == 200
    received = b""
    while len(received) < cut:  # the first part reached the client before the rest was sent
        received += await asyncio.wait_for(response.content.readany(), 10)
    release.set()
    assert received + await response.read() == GEMINI_SSE
    [line] = access_lines()
    assert usage_of(line) == GEMINI_EXPECTED


async def test_gemini_translated_whole_answer(client, fake_gemini, gemini_headers, access_lines):  # noqa: F811
    fake_gemini.usage = {"thoughtsTokenCount": 3, "cachedContentTokenCount": 2}
    body = {"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "hello there"}]}
    headers = {**gemini_headers, "Authorization": f"Bearer {GEMINI_KEY}"}
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status == 200
    answer = await response.json()
    [line] = access_lines()
    usage = usage_of(line)
    assert usage.reasoning == 3 and usage.cache_read == 2 and usage.input > 0
    assert usage.output == answer["usage"]["completion_tokens"] == 4 + 3  # "You said: hello there" + thoughts


def cohere_headers(fake_cohere) -> dict[str, str]:  # noqa: F811
    return {"x-portkey-provider": "cohere", "x-portkey-custom-host": fake_cohere.url, "Authorization": f"Bearer {COHERE_KEY}"}


async def test_cohere_translated_whole_answer_counts_billed_units(client, fake_cohere, access_lines):  # noqa: F811
    body = {"model": "command-r", "messages": [{"role": "user", "content": "one two three"}]}
    response = await client.post("/v1/chat/completions", json=body, headers=cohere_headers(fake_cohere))
    assert response.status == 200
    await response.read()
    [line] = access_lines()
    assert usage_of(line) == Usage(input=3, output=5)  # the fake bills words; its raw counts add 200


async def test_cohere_native_answer_relayed_as_bytes(client, fake_cohere, access_lines):  # noqa: F811
    headers = {**cohere_headers(fake_cohere), "x-portkey-provider": "openai", "x-portkey-custom-host": fake_cohere.url + "/v2"}
    body = {"model": "command-r", "messages": [{"role": "user", "content": "one two three"}]}
    response = await client.post("/v1/chat", json=body, headers=headers)
    assert response.status == 200
    assert "billed_units" in (await response.json())["usage"]  # Cohere's own answer, untouched
    [line] = access_lines()
    assert usage_of(line) == Usage(input=3, output=5)


async def test_cohere_native_stream_relayed_as_bytes(client, fake_cohere, access_lines):  # noqa: F811
    headers = {**cohere_headers(fake_cohere), "x-portkey-provider": "openai", "x-portkey-custom-host": fake_cohere.url + "/v2"}
    body = {"model": "command-r", "messages": [{"role": "user", "content": "one two three"}], "stream": True}
    response = await client.post("/v1/chat", json=body, headers=headers)
    assert response.status == 200
    assert b"message-end" in await response.read()
    [line] = access_lines()
    assert usage_of(line) == Usage(input=3, output=5)


async def test_cohere_translated_embeddings_count_billed_input(client, fake_cohere, access_lines):  # noqa: F811
    body = {"model": "embed-v4.0", "input": ["one two", "three"]}
    response = await client.post("/v1/embeddings", json=body, headers=cohere_headers(fake_cohere))
    assert response.status == 200
    assert (await response.json())["usage"]["prompt_tokens"] == 3
    [line] = access_lines()
    assert usage_of(line) == Usage(input=3)


async def test_openai_embeddings_relayed_as_bytes(client, auth_headers, access_lines):
    response = await client.post("/v1/embeddings", json={"model": "text-embedding-3-small", "input": ["a", "b"]}, headers=auth_headers)
    assert response.status == 200
    await response.read()
    [line] = access_lines()
    assert usage_of(line) == Usage(input=2)


async def test_cohere_native_embed_relayed_as_bytes_counts_meta_billed_units(client, fake_cohere, access_lines):  # noqa: F811
    """Cohere's v2 embed answer has no usage object: its counts are in meta.billed_units."""
    headers = {**cohere_headers(fake_cohere), "x-portkey-provider": "openai", "x-portkey-custom-host": fake_cohere.url + "/v2"}
    body = {"model": "embed-v4.0", "texts": ["one two", "three"], "input_type": "search_document", "embedding_types": ["float"]}
    response = await client.post("/v1/embed", json=body, headers=headers)
    assert response.status == 200
    raw = await response.read()
    assert b'"billed_units":' in raw and b'"usage"' not in raw  # Cohere's own answer, untouched
    assert usage_of(access_lines()[-1]) == Usage(input=3)


async def test_a_long_cohere_embed_answer_in_pieces_counts_meta_billed_units(client, aiohttp_server, access_lines):
    """An answer longer than the sniffer's windows, relayed piece by piece: the middle is
    let go, the counts at its end are still read."""
    vectors = [[0.0123] * 512 for _ in range(8)]
    answer = json.dumps({
        "id": "e1", "embeddings": {"float": vectors}, "texts": ["x"] * 8,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": 8}},
        "response_type": "embeddings_by_type",
    }).encode()
    cuts = [0, 5000, 15000, 25000, len(answer)]
    assert len(answer) > cuts[-2] and b"billed_units" in answer[cuts[-2]:]
    received = [asyncio.Event() for _ in cuts[1:]]

    async def embed(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        for start, end, seen in zip(cuts, cuts[1:], received, strict=False):
            await response.write(answer[start:end])
            await seen.wait()  # one piece at a time: the relay gets them apart
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v2/embed", embed)
    server = await aiohttp_server(app)
    headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": str(server.make_url("/v2")), "Authorization": "Bearer any"}
    response = await client.post("/v1/embed", json={"model": "embed-v4.0", "texts": ["x"] * 8}, headers=headers)
    assert response.status == 200
    got = b""
    for end, seen in zip(cuts[1:], received, strict=True):
        while len(got) < end:
            got += await response.content.readany()
        seen.set()
    assert got + await response.read() == answer
    assert usage_of(access_lines()[-1]) == Usage(input=8)
