"""Relay an upstream answer to the client, chunk by chunk.

Bytes go out as they arrive: each upstream chunk is one write to the client, with
nothing held back. For translating providers each chunk passes through a sans-IO
translator first. Until the client response is prepared a failure can still be a
clean JSON error with its own status; after that the status is fixed, so a failure
ends an event stream with an OpenAI error event (never ``[DONE]``), and any other
body by cutting the connection, so the client can tell it is incomplete.

The relay reads the answer and never ends it: its holder does (``async with``). It
reports how the answer went in a :class:`RelayResult` (bytes out, first byte, usage,
how it ended), never in the request's state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ..answer import UpstreamAnswer
from ..errors import GatewayError, IdleTimeout, UpstreamBroken, UpstreamTooLarge
from ..hop_by_hop import connection_options
from ..loggable import upstream_request_id
from ..observability.finish import note, watching
from ..providers.base import ResponseTranslator, StreamTranslator
from ..response_headers import HeaderAllowList
from ..settings import SETTINGS
from .cut_usage import passthrough_cut_usage, translated_cut_usage
from .idle import IdleDeadline
from .result import RelayResult
from .usage_filter import UsageChunkFilter
from .usage_sniffer import UsageSniffer, model_in, usage_in, whole_json_answer

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
    answer: UpstreamAnswer,
    result: RelayResult,
    *,
    extra_headers: dict[str, str],
    idle_timeout: float,
    translator: ResponseTranslator | None = None,
    wants_stream: bool = False,
    stream_translator: StreamTranslator | None = None,
    first_out: bytes = b"",
    sniff_model: bool = False,
    anthropic: bool = False,
    in_flight: Any = None,
    watch_finish: bool = False,
    usage_filter: UsageChunkFilter | None = None,
    starting: Callable[[web.Request, web.StreamResponse], None] | None = None,
) -> web.StreamResponse:
    """Answer ``request`` with ``answer``; returns the (finished) response, and fills
    ``result`` as it goes (so that it holds what happened if the client hangs up).

    ``stream_translator`` is a translated stream already fed up to its first output
    (``first_out``), by routing, which judged the answer before committing to it.
    ``sniff_model``: read the model from the answer (the request's body was not
    parsed). ``anthropic``: a failure mid-stream is told in Anthropic's protocol.
    ``in_flight``: the worker's InFlight, told which answer is being relayed so that
    a shutdown's deadline can end it in band. ``watch_finish`` (tracing): note the
    finish reasons in the bytes out, in ``result.finish_reasons``.
    ``usage_filter``: drops the usage event a passthrough stream was asked for by
    the limits (``usage_filter.py``), after the usage is read; its counts are the
    usage of a stream cut short (``cut_usage.py``). ``starting(request, response)``
    is called right before a stream's headers go out (a whole answer's are its
    caller's to complete).
    """
    status = answer.status
    headers = client_headers(answer.headers, extra_headers, request.app[SETTINGS].pass_response_headers)
    result.upstream_request_id = upstream_request_id(answer.headers)
    if translator is not None:
        if status >= 400:
            body = await _read_rest(answer, idle_timeout, result)
            return _whole(status, headers, translator.error(status, answer.headers, body))
        if not wants_stream:
            body = await _read_rest(answer, idle_timeout, result)
            translated = translator.body(body)
            # The upstream's own counts; else those the translation computed (embeddings
            # whose counts are not under a usage key: Cohere's meta, Titan's, Vertex's sum).
            result.usage = usage_in(body) or usage_in(translated)
            return _whole(status, headers, translated)
        if stream_translator is None:
            stream_translator = translator.stream_translator()
            first_out = stream_translator.feed(answer.first_chunk) if answer.first_chunk else b""
        try:
            return await _relay_translated(
                request, answer, result, headers, idle_timeout, stream_translator, first_out, anthropic, in_flight,
                watch_finish, starting,
            )
        finally:
            result.usage = getattr(stream_translator, "usage", None)
            if result.usage is None and result.bytes_out:  # cut short: what was streamed (cut_usage.py)
                result.usage = translated_cut_usage(stream_translator, usage_filter)
    if answer.ended and answer.content_type != EVENT_STREAM:
        # The whole (small) body came with the first read: one write, with a length
        # (an event stream keeps its stream headers, however short).
        usage, model = whole_json_answer(answer.first_chunk)
        result.usage = usage
        if sniff_model:
            result.model = model  # the request's body was streamed, never parsed
        return web.Response(status=status, headers=headers, body=answer.first_chunk)
    if sniff_model:
        result.model = model_in(answer.first_chunk)  # the body was streamed, never parsed
    return await _relay_bytes(
        request, answer, result, headers, idle_timeout, anthropic, in_flight, watch_finish, usage_filter, starting
    )


async def _relay_bytes(
    request,
    answer: UpstreamAnswer,
    result: RelayResult,
    headers,
    idle_timeout: float,
    anthropic: bool,
    in_flight,
    watch_finish: bool,
    usage_filter: UsageChunkFilter | None,
    starting,
) -> web.StreamResponse:
    is_sse = answer.content_type == EVENT_STREAM
    response = _stream_response(answer.status, headers, is_sse)
    if starting is not None:
        starting(request, response)
    await response.prepare(request)
    # Usage is read on the side: the sniffer hands every chunk back untouched.
    sniffer = UsageSniffer()
    feed, close = sniffer.feed, _nothing
    if usage_filter is not None:  # drops the usage event the limits asked for (usage_filter.py)
        feed, close = (lambda chunk: usage_filter.feed(sniffer.feed(chunk))), usage_filter.close
    try:
        return await _pump(
            request, response, answer, result, feed(answer.first_chunk), idle_timeout,
            anthropic, is_sse, feed, close, in_flight, watch_finish,
        )
    finally:
        result.usage = sniffer.usage()
        if result.usage is None and result.bytes_out:  # cut short: what was streamed (cut_usage.py)
            result.usage = passthrough_cut_usage(usage_filter)


async def _relay_translated(
    request,
    answer: UpstreamAnswer,
    result: RelayResult,
    headers,
    idle_timeout: float,
    stream: StreamTranslator,
    first_out: bytes,
    anthropic: bool,
    in_flight,
    watch_finish: bool,
    starting,
) -> web.StreamResponse:
    # The first chunk was translated before the client saw anything: an error the
    # upstream reports at once (a Bedrock exception frame) kept its own status.
    headers["Content-Type"] = EVENT_STREAM
    response = _stream_response(answer.status, headers, True)
    if starting is not None:
        starting(request, response)
    await response.prepare(request)
    return await _pump(
        request, response, answer, result, first_out, idle_timeout, anthropic, True, stream.feed, stream.close, in_flight,
        watch_finish,
    )


class _ClientGone(Exception):
    """The client closed its connection while we were writing to it."""


async def _pump(
    request,
    response,
    answer: UpstreamAnswer,
    result: RelayResult,
    out: bytes,
    idle_timeout: float,
    anthropic: bool,
    is_sse: bool,
    feed,
    close,
    in_flight,
    watch_finish: bool,
):
    """Write ``out``, then each upstream chunk through ``feed``, then ``close()``.

    The idle deadline runs from one output to the next, paused while writing, so a
    slow client never counts as a silent upstream; for a translated stream, bytes
    that ``feed`` turns into nothing (pings, junk) do not count as talking.
    """
    read, write = answer.read, response.write
    if watch_finish:  # tracing: the answer's finish reasons, read on the side
        feed, close = watching(result, feed), watching(result, close)
        if out:
            note(result, out)
    if in_flight is not None:  # a shutdown's deadline can end this stream in band
        in_flight.relaying(request, answer)
    recording = result.recording  # the response cache keeps the pieces as written
    try:
        with IdleDeadline(idle_timeout) as idle:
            idle.waiting()
            while True:
                if out:
                    idle.done()
                    try:  # inline, not a helper coroutine: this runs once a chunk
                        await write(out)
                    except ConnectionResetError as exc:
                        raise _ClientGone from exc
                    if recording is not None:
                        recording.append(out)
                    if not result.bytes_out:
                        result.first_byte_at = time.perf_counter()
                    result.bytes_out += len(out)
                    result.chunks_out += 1
                    idle.waiting()
                chunk = await read()
                if not chunk:
                    break
                out = feed(chunk)
        out = close()
        if out:
            await _write(response, out)
            if recording is not None:
                recording.append(out)
            result.bytes_out += len(out)
    except _ClientGone:
        result.client_gone = True
        return response
    except (TimeoutError, aiohttp.ClientError, OSError, GatewayError) as exc:
        await _fail_started(request, response, result, is_sse, anthropic, _mid_stream_error(exc, idle_timeout))
        return response
    finally:
        if in_flight is not None:
            in_flight.relayed(request)
    try:
        await response.write_eof()
    except ConnectionResetError:
        # The client left just before the end; aiohttp, which writes the end again
        # after us, takes a closed connection quietly.
        result.client_gone = True
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
        return IdleTimeout(idle_timeout)
    return UpstreamBroken(f"upstream connection failed in the middle of its answer: {type(exc).__name__}")


async def _fail_started(
    request, response: web.StreamResponse, result: RelayResult, is_sse: bool, anthropic: bool, error: GatewayError
) -> None:
    """End a response whose status is already sent, so the client knows it failed."""
    result.stream_error = error
    log.warning("stream failed after the first byte: %s", error.message)
    if is_sse:
        try:
            event = error.event_for(anthropic=anthropic)
            await response.write(event)
            result.bytes_out += len(event)
            await response.write_eof()
        except (ConnectionError, RuntimeError):
            pass  # the client is gone too; nothing left to tell it
    else:
        # No in-band way to signal a broken body: cut the connection before its end.
        if request.transport is not None:
            request.transport.abort()


async def _read_rest(answer: UpstreamAnswer, idle_timeout: float, result: RelayResult) -> bytes:
    """The rest of an answer read whole; the time waited for it goes in ``result.waited``."""
    started = time.perf_counter()
    try:
        return await _read_all(answer, idle_timeout)
    finally:
        result.waited += time.perf_counter() - started


async def _read_all(answer: UpstreamAnswer, idle_timeout: float) -> bytes:
    parts = [answer.first_chunk]
    size = len(answer.first_chunk)
    try:
        while size <= MAX_TRANSLATED_BODY:  # the first chunk counts too
            async with asyncio.timeout(idle_timeout):
                chunk = await answer.read()
            if not chunk:
                return b"".join(parts)
            size += len(chunk)
            parts.append(chunk)
    except TimeoutError:
        raise IdleTimeout(idle_timeout) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamBroken(f"upstream connection failed in the middle of its answer: {type(exc).__name__}") from None
    raise UpstreamTooLarge(f"upstream answer larger than {MAX_TRANSLATED_BODY} bytes: too large to translate")


def _whole(status: int, headers: CIMultiDict[str], body: bytes) -> web.Response:
    headers["Content-Type"] = "application/json"
    return web.Response(status=status, headers=headers, body=body)
