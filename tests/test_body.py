"""The request body on its way upstream: whole when it is already here, else streamed."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from gateway.settings import Settings
from tests.conftest import TEST_KEY


async def test_small_body_reaches_upstream_intact(client, fake_openai, openai_headers):
    body = b'{"model": "gpt-4o-mini", "input": "' + b"x" * 1000 + b'"}'
    response = await client.post(
        "/v1/echo", data=body, headers={**openai_headers, "Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json"}
    )
    assert response.status == 200
    assert (await response.json())["body_size"] == len(body)
    assert fake_openai.last.body == body
    assert fake_openai.last.headers["Content-Length"] == str(len(body))


async def test_body_is_streamed_while_the_client_is_still_sending(client, aiohttp_server):
    # The upstream must see the request before the client sends the rest of its body:
    # the second part is only sent once the upstream has been called.
    called = asyncio.Event()
    received: list[bytes] = []

    async def upstream(request: web.Request) -> web.Response:
        called.set()
        received.append(await request.read())
        return web.json_response({"object": "chat.completion"})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", upstream)
    server = await aiohttp_server(app)

    async def body():
        yield b'{"model": "gpt-4o-mini", '
        await called.wait()
        yield b'"messages": []}'

    headers = {
        "x-portkey-provider": "openai",
        "x-portkey-custom-host": str(server.make_url("/v1")),
        "Authorization": f"Bearer {TEST_KEY}",
        "Content-Type": "application/json",
    }
    response = await asyncio.wait_for(client.post("/v1/chat/completions", data=body(), headers=headers), 30)
    assert response.status == 200
    assert received == [b'{"model": "gpt-4o-mini", "messages": []}']


@pytest.mark.parametrize("settings", [Settings(max_body_size=100)])
async def test_chunked_body_over_the_limit_is_refused(client, fake_openai, openai_headers, settings):
    async def body():
        yield b"x" * 300

    response = await client.post(
        "/v1/echo", data=body(), headers={**openai_headers, "Authorization": f"Bearer {TEST_KEY}"}
    )
    assert response.status == 413
    assert (await response.json())["error"]["code"] == "request_too_large"
    assert all(recorded.body != b"x" * 300 for recorded in fake_openai.requests)


@pytest.mark.parametrize("whole", [False, True])
async def test_a_client_gone_before_its_body_is_read_is_a_499_not_a_500(whole):
    """The body arrived with the headers, then the connection was lost (wrk closing at
    the end of a run did this): the request ends as the client's hang-up, not a bug."""
    from aiohttp import streams
    from aiohttp.test_utils import make_mocked_request

    from gateway.body import read_body, stream_body
    from gateway.errors import ClientClosed
    from gateway.providers.base import Call

    protocol = type("Protocol", (), {"_reading_paused": False, "resume_reading": lambda self, **_: None, "pause_reading": lambda self, **_: None})()
    payload = streams.StreamReader(protocol, 2**16, loop=asyncio.get_running_loop())
    payload.feed_data(b'{"model": "m"}')
    payload.feed_eof()
    payload.set_exception(ConnectionResetError("Connection lost"))
    request = make_mocked_request(
        "POST", "/v1/chat/completions", headers={"Content-Length": "14", "Content-Type": "application/json"}, payload=payload
    )
    call = Call(method="POST", endpoint="chat/completions", query_string="", headers=request.headers)
    with pytest.raises(ClientClosed) as caught:
        if whole:
            await read_body(request, call, 1024, require_json=True)
        else:
            stream_body(request, call, 1024)
    assert caught.value.status == 499
