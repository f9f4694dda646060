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
import time

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ..errors import BodyTooLarge, GatewayError, UpstreamBroken, UpstreamTimeout
from ..hop_by_hop import connection_options
from ..loggable import upstream_request_id
from ..middlewares.drain import IN_FLIGHT
from ..middlewares.state import state_of
from ..observability.finish import note, watching
from ..providers.base import ResponseTranslator, StreamTranslator
from ..response_headers import HeaderAllowList
from ..settings import SETTINGS
from ..upstream import Opened
from .idle import IdleDeadline
from .usage_filter import USAGE_FILTER
from .usage_sniffer import UsageSniffer, model_in, usage_in

log = logging.getLogger("gateway.relay")

EVENT_STREAM = "text/event-stream"

# Largest whole upstream body read for translation (a chat answer is far smaller).
MAX_TRANSLATED_BODY = 64 * 1024 * 1024


def client_headers(
    upstream: CIMultiDictProxy[str], extra: dict[str, str], allowed: HeaderAllowList
) -> CIMultiDict[str]:
    """The upstream's headers a client may see (``allowed``), then the gateway's ``extra``."""
    # Most names are answered by one dict lookup; passes() decides (and remembers) new ones.
    decided, passes = allowed.decided, allowed.passes
    passed = [
        (name, value)
        for name, value in upstream.items()
        if (known := decided.get(name)) or (known is None and passes(name))
    ]
    listed = connection_options(upstream)
    if listed:
        passed = [(name, value) for name, value in passed if name.lower() not in listed]
    headers = CIMultiDict(passed)
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
    stream_translator: StreamTranslator | None = None,
    first_out: bytes = b"",
) -> web.StreamResponse:
    """Answer ``request`` with ``opened``; returns the (finished) response.

    ``stream_translator`` is a translated stream already fed up to its first output
    (``first_out``), by routing, which judged the answer before committing to it.
    """
    upstream = opened.response
    headers = client_headers(upstream.headers, extra_headers, request.app[SETTINGS].pass_response_headers)
    state = state_of(request)
    state.upstream_request_id = upstream_request_id(upstream.headers)
    try:
        if translator is not None:
            if upstream.status >= 400:
                body = await _read_rest(opened, idle_timeout, state)
                return _whole(upstream.status, headers, translator.error(upstream.status, upstream.headers, body))
            if not wants_stream:
                body = await _read_rest(opened, idle_timeout, state)
                state.usage = usage_in(body)  # Anthropic's or Converse's own counts
                return _whole(upstream.status, headers, translator.body(body))
            if stream_translator is None:
                stream_translator = translator.stream()
                first_out = stream_translator.feed(opened.first_chunk) if opened.first_chunk else b""
            try:
                return await _relay_translated(request, opened, headers, idle_timeout, stream_translator, first_out)
            finally:
                state.usage = getattr(stream_translator, "usage", None)
        if state.model is None:
            state.model = model_in(opened.first_chunk)  # the body was streamed, never parsed
        if _is_complete(opened):
            # The whole (small) body came with the first read: one write, with a length.
            opened.response.release()
            state.usage = usage_in(opened.first_chunk)
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
    # Usage is read on the side: the sniffer hands every chunk back untouched.
    sniffer = UsageSniffer()
    feed, close = sniffer.feed, _nothing
    usage_filter = request.get(USAGE_FILTER)
    if usage_filter is not None:  # drops the usage event the limits asked for (usage_filter.py)
        feed, close = (lambda chunk: usage_filter.feed(sniffer.feed(chunk))), usage_filter.close
    try:
        return await _pump(request, response, opened, feed(opened.first_chunk), idle_timeout, is_sse, feed, close)
    finally:
        state_of(request).usage = sniffer.usage()


async def _relay_translated(
    request, opened: Opened, headers, idle_timeout: float, stream: StreamTranslator, first_out: bytes
) -> web.StreamResponse:
    # The first chunk was translated before the client saw anything: an error the
    # upstream reports at once (a Bedrock exception frame) kept its own status.
    headers["Content-Type"] = EVENT_STREAM
    response = _stream_response(opened.response.status, headers, True)
    await response.prepare(request)
    return await _pump(request, response, opened, first_out, idle_timeout, True, stream.feed, stream.close)


class _ClientGone(Exception):
    """The client closed its connection while we were writing to it."""


async def _pump(request, response, opened: Opened, out: bytes, idle_timeout: float, is_sse: bool, feed, close):
    """Write ``out``, then each upstream chunk through ``feed``, then ``close()``.

    The idle deadline runs from one output to the next, paused while writing, so a
    slow client never counts as a silent upstream; for a translated stream, bytes
    that ``feed`` turns into nothing (pings, junk) do not count as talking.
    """
    content = opened.response.content
    state = state_of(request)
    if state.span is not None:  # tracing: the answer's finish reasons, read on the side
        feed, close = watching(state, feed), watching(state, close)
        if out:
            note(state, out)
    in_flight = request.app.get(IN_FLIGHT)
    if in_flight is not None:  # a shutdown's deadline can end this stream in band
        in_flight.relaying(request, content)
    try:
        with IdleDeadline(idle_timeout) as idle:
            idle.waiting()
            while True:
                if out:
                    idle.done()
                    await _write(response, out)
                    if not state.body_bytes_out:
                        state.first_byte_at = time.perf_counter()
                    state.body_bytes_out += len(out)
                    state.chunks_out += 1
                    idle.waiting()
                chunk = await content.readany()
                if not chunk:
                    break
                out = feed(chunk)
        out = close()
        if out:
            await _write(response, out)
            state.body_bytes_out += len(out)
    except _ClientGone:
        state.client_gone = True
        return response
    except (TimeoutError, aiohttp.ClientError, OSError, GatewayError) as exc:
        await _fail_started(request, response, is_sse, _mid_stream_error(exc, idle_timeout))
        return response
    finally:
        if in_flight is not None:
            in_flight.relayed(request)
    opened.response.release()
    try:
        await response.write_eof()
    except ConnectionResetError:
        # The client left just before the end; aiohttp, which writes the end again
        # after us, takes a closed connection quietly.
        state.client_gone = True
    return response


async def _write(response: web.StreamResponse, data: bytes) -> None:
    try:
        await response.write(data)
    except ConnectionResetError as exc:
        raise _ClientGone from exc


def _nothing() -> bytes:
    return b""


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
    state_of(request).stream_error = error
    log.warning("stream failed after the first byte: %s", error.message)
    if is_sse:
        try:
            event = error.sse_event()
            await response.write(event)
            state_of(request).body_bytes_out += len(event)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client is gone too; nothing left to tell it
    else:
        # No in-band way to signal a broken body: cut the connection before its end.
        if request.transport is not None:
            request.transport.abort()


async def _read_rest(opened: Opened, idle_timeout: float, state=None) -> bytes:
    """The rest of an answer read whole; the time waited for it counts in ``state.waited``."""
    started = time.perf_counter()
    try:
        return await _read_all(opened, idle_timeout)
    finally:
        if state is not None:
            state.waited += time.perf_counter() - started


async def _read_all(opened: Opened, idle_timeout: float) -> bytes:
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
