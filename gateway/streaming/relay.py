"""Relay an opened upstream answer to the client, chunk by chunk.

Bytes go out as they arrive: each upstream chunk is one write to the client, with
nothing held back. For translating providers each chunk passes through a sans-IO
translator first. Until the client response is prepared a failure can still be a
clean JSON error with its own status; after that the status is fixed, so a failure
ends an event stream with an OpenAI error event (never ``[DONE]``), and any other
body by cutting the connection, so the client can tell it is incomplete.
"""

from __future__ import annotations

import asyncio
import logging

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ..middlewares.state import state_of
from ..errors import BodyTooLarge, GatewayError, UpstreamBroken, UpstreamTimeout
from ..providers.base import ResponseTranslator
from ..upstream import Opened
from .idle import IdleDeadline

log = logging.getLogger("gateway.relay")

EVENT_STREAM = "text/event-stream"

# Upstream response headers the client never sees: hop-by-hop ones, those that
# describe the upstream's encoding of the body (aiohttp decodes it), and those that
# only make sense for the upstream's own domain or server.
_DROPPED_RESPONSE_HEADERS = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "content-length",
        "content-encoding",
        "set-cookie",
        "alt-svc",
        "strict-transport-security",
        "server",
        "date",
        "via",
    }
)

# Largest whole upstream body read for translation (a chat answer is far smaller).
MAX_TRANSLATED_BODY = 64 * 1024 * 1024


def client_headers(upstream: CIMultiDictProxy[str], extra: dict[str, str]) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict()
    for name, value in upstream.items():
        if name.lower() not in _DROPPED_RESPONSE_HEADERS:
            headers.add(name, value)
    headers.update(extra)
    return headers


async def relay(
    request: web.Request,
    opened: Opened,
    *,
    extra_headers: dict[str, str],
    idle_timeout: float,
    translator: ResponseTranslator | None = None,
    wants_stream: bool = False,
) -> web.StreamResponse:
    """Answer ``request`` with ``opened``; returns the (finished) response."""
    upstream = opened.response
    headers = client_headers(upstream.headers, extra_headers)
    try:
        if translator is not None:
            if upstream.status >= 400:
                body = await _read_rest(opened, idle_timeout)
                return _whole(upstream.status, headers, translator.error(upstream.status, upstream.headers, body))
            if not wants_stream:
                body = await _read_rest(opened, idle_timeout)
                return _whole(upstream.status, headers, translator.body(body))
            return await _relay_translated(request, opened, headers, idle_timeout, translator.stream())
        if _is_complete(opened):
            # The whole (small) body came with the first read: one write, with a length.
            opened.response.release()
            return web.Response(status=upstream.status, headers=headers, body=opened.first_chunk)
        return await _relay_bytes(request, opened, headers, idle_timeout)
    finally:
        opened.close()


def _is_complete(opened: Opened) -> bool:
    length = opened.response.content_length
    return (
        length is not None
        and len(opened.first_chunk) == length
        and "content-encoding" not in opened.response.headers
    )


async def _relay_bytes(request, opened: Opened, headers, idle_timeout: float) -> web.StreamResponse:
    is_sse = opened.response.content_type == EVENT_STREAM
    response = _stream_response(opened.response.status, headers, is_sse)
    await response.prepare(request)
    content = opened.response.content
    chunk = opened.first_chunk
    try:
        with IdleDeadline(idle_timeout) as idle:
            while chunk:
                await response.write(chunk)
                idle.waiting()
                chunk = await content.readany()
                idle.done()
    except (TimeoutError, aiohttp.ClientError, OSError) as exc:
        await _fail_started(request, response, is_sse, _mid_stream_error(exc, idle_timeout))
        return response
    opened.response.release()
    await response.write_eof()
    return response


async def _relay_translated(request, opened: Opened, headers, idle_timeout: float, stream) -> web.StreamResponse:
    # The first chunk is translated before the client sees anything: an error the
    # upstream reports at once (a Bedrock exception frame) keeps its own status.
    out = stream.feed(opened.first_chunk) if opened.first_chunk else b""
    headers["Content-Type"] = EVENT_STREAM
    response = _stream_response(opened.response.status, headers, True)
    await response.prepare(request)
    content = opened.response.content
    try:
        with IdleDeadline(idle_timeout) as idle:
            while True:
                if out:
                    await response.write(out)
                idle.waiting()
                chunk = await content.readany()
                idle.done()
                if not chunk:
                    break
                out = stream.feed(chunk)
        out = stream.close()
    except (TimeoutError, aiohttp.ClientError, OSError, GatewayError) as exc:
        await _fail_started(request, response, True, _mid_stream_error(exc, idle_timeout))
        return response
    if out:
        await response.write(out)
    opened.response.release()
    await response.write_eof()
    return response


def _stream_response(status: int, headers: CIMultiDict[str], is_sse: bool) -> web.StreamResponse:
    response = web.StreamResponse(status=status, headers=headers)
    if is_sse:
        # nginx and other proxies must pass every event on at once.
        response.headers["Cache-Control"] = "no-cache"
        response.headers["X-Accel-Buffering"] = "no"
    return response


def _mid_stream_error(exc: BaseException, idle_timeout: float) -> GatewayError:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, TimeoutError):
        return UpstreamTimeout(
            f"upstream sent nothing for {idle_timeout:g} s in the middle of its answer",
            status=504,
            code="stream_idle_timeout",
        )
    return UpstreamBroken(f"upstream connection failed in the middle of its answer: {type(exc).__name__}")


async def _fail_started(request, response: web.StreamResponse, is_sse: bool, error: GatewayError) -> None:
    """End a response whose status is already sent, so the client knows it failed."""
    if request.transport is None or request.transport.is_closing():
        # The failure was our write to a client that hung up: aiohttp's handler
        # cancellation only lost the race to notice. Nothing upstream failed, and
        # there is nobody to tell: end as that cancellation would.
        raise asyncio.CancelledError
    state_of(request).stream_error = error
    log.warning("stream failed after the first byte: %s", error.message)
    if is_sse:
        try:
            await response.write(error.sse_event())
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client is gone too; nothing left to tell it
    else:
        # No in-band way to signal a broken body: cut the connection before its end.
        if request.transport is not None:
            request.transport.abort()


async def _read_rest(opened: Opened, idle_timeout: float) -> bytes:
    parts = [opened.first_chunk]
    size = len(opened.first_chunk)
    content = opened.response.content
    try:
        while True:
            async with asyncio.timeout(idle_timeout):
                chunk = await content.readany()
            if not chunk:
                break
            size += len(chunk)
            if size > MAX_TRANSLATED_BODY:
                raise BodyTooLarge("upstream answer too large to translate", status=502, code="upstream_too_large")
            parts.append(chunk)
    except TimeoutError:
        raise UpstreamTimeout(
            f"upstream sent nothing for {idle_timeout:g} s in the middle of its answer",
            status=504,
            code="stream_idle_timeout",
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamBroken(f"upstream connection failed in the middle of its answer: {type(exc).__name__}") from None
    return b"".join(parts)


def _whole(status: int, headers: CIMultiDict[str], body: bytes) -> web.Response:
    headers["Content-Type"] = "application/json"
    return web.Response(status=status, headers=headers, body=body)
