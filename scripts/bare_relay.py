"""The floor for any aiohttp proxy: forward the bytes, nothing else.

    python scripts/bare_relay.py PORT UPSTREAM_BASE_URL

No config, no validation, no logging: the request body is read and sent on; an
answer is sent back whole, or chunk by chunk when it is an event stream. Same event loop (uvloop) and client settings as
the gateway, so the gap between the two is the gateway's own work.
"""

import sys

import aiohttp
from aiohttp import web

try:
    import uvloop
except ImportError:
    uvloop = None

FORWARDED = ("Content-Type", "Authorization", "Accept")


async def relay(request: web.Request) -> web.StreamResponse:
    headers = {name: request.headers[name] for name in FORWARDED if name in request.headers}
    body = await request.read()
    async with request.app["session"].request(request.method, request.app["upstream"] + request.path_qs, headers=headers, data=body) as upstream:
        if upstream.content_type != "text/event-stream":  # a whole answer: one write, with a length
            return web.Response(status=upstream.status, body=await upstream.read(), content_type=upstream.content_type)
        response = web.StreamResponse(status=upstream.status, headers={"Content-Type": upstream.content_type})
        await response.prepare(request)
        async for chunk in upstream.content.iter_any():
            await response.write(chunk)
        await response.write_eof()
        return response


async def session(app: web.Application):
    app["session"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    yield
    await app["session"].close()


def create_app(upstream: str) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app["upstream"] = upstream.rstrip("/")
    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", relay)
    return app


if __name__ == "__main__":
    port, upstream = int(sys.argv[1]), sys.argv[2]
    web.run_app(create_app(upstream), host="127.0.0.1", port=port, access_log=None, print=None,
                loop=uvloop.new_event_loop() if uvloop else None)
