"""First middleware: trace id, timing, the access-log line, errors → JSON in the
client's protocol (OpenAI's, or Anthropic's for ``/v1/messages``)."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from random import getrandbits

from aiohttp import web

from ..errors import BodyTooLarge, GatewayError, GatewayShutdown, MethodNotAllowed, NotFound, speaks_anthropic
from ..log import process_id, write_info_line
from ..observability import METRICS, TRACING, set_overhead
from ..observability.labels import route_label
from ..request_keys import PRESET_KEYS
from ..routing.records import ROUTED, Routed
from ..settings import SETTINGS
from .drain import IN_FLIGHT, track, untrack
from .keys import key_names
from .limits import add_limit_headers
from .state import STATE_KEY, RequestState, is_api_request

access_log = logging.getLogger("gateway.access")
log = logging.getLogger("gateway")

TRACE_HEADER = "x-portkey-trace-id"
_TRACE_ID = re.compile(r"[A-Za-z0-9._:/=+\-]{1,128}")
# nginx's code for "client closed the connection before the answer was complete".
CLIENT_CLOSED = 499
# The access line's ``ended`` when the drain's deadline cut the answer.
ENDED_BY_SHUTDOWN = "shutdown"


@web.middleware
async def context_middleware(request: web.Request, handler):
    started = time.perf_counter()
    trace_id = request.headers.get(TRACE_HEADER)
    state = RequestState(trace_id or new_trace_id(), started)
    request[STATE_KEY] = state
    for key in PRESET_KEYS:
        request[key] = None
    app = request.app
    metrics, tracing, in_flight = app[METRICS], app[TRACING], app[IN_FLIGHT]
    metrics.request_started()
    if tracing.enabled:
        state.span = tracing.start_request(request)
    response = None
    status = 500
    try:
        if trace_id is not None and not _TRACE_ID.fullmatch(trace_id):
            state.trace_id = new_trace_id()
            raise GatewayError(
                f"{TRACE_HEADER}: 1-128 characters of letters, digits and ._:/=+-",
                status=400,
                type="invalid_request_error",
                code="invalid_trace_id",
                param=TRACE_HEADER,
            )
        state.api = is_api_request(request)  # read by auth, config and limits
        task = track(request, in_flight)  # the drain's count (drain.py)
        try:
            response = await handler(request)
        except asyncio.CancelledError:
            untrack(request, in_flight, task, cancelled=True)  # GatewayShutdown when the drain cut it
            raise
        except BaseException:
            untrack(request, in_flight, task)
            raise
        untrack(request, in_flight, task)
        if in_flight.draining and not response.prepared:
            response.force_close()  # the client moves to a worker that is not going away
        status = response.status
    except GatewayError as exc:
        response, status = exc.response(anthropic=speaks_anthropic(request.path)), exc.status
        state.error_code = exc.code
        if isinstance(exc, GatewayShutdown):  # the drain's deadline (drain.py): this worker is going away
            state.ended = ENDED_BY_SHUTDOWN
            response.force_close()
    except web.HTTPRequestEntityTooLarge as exc:
        error = BodyTooLarge(exc.text or "request body too large")
        response, status = error.response(anthropic=speaks_anthropic(request.path)), 413
    except web.HTTPException as exc:
        response, status = _http_exception(request, exc, speaks_anthropic(request.path)), exc.status
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    except Exception:
        log.exception("unhandled error", extra={"fields": {"trace_id": state.trace_id}})
        error = GatewayError("internal gateway error; see the gateway log for this trace id")
        response, status = error.response(anthropic=speaks_anthropic(request.path)), 500
    finally:
        routed = request.get(ROUTED)
        if routed is not None:
            _absorb(state, routed)
            if state.client_gone:
                status = CLIENT_CLOSED  # the answer was cut short by the client leaving
        whole = response is not None and not response.prepared  # its headers go out next
        if whole:
            set_overhead(state, response.headers)
            add_limit_headers(request, response)
        now = time.perf_counter()
        # A whole answer's first byte goes out right after this; a stream's went earlier.
        first_byte_at = state.first_byte_at
        ttfb = first_byte_at - started if first_byte_at is not None else now - started if whole else None
        if access_log.isEnabledFor(logging.INFO):
            _access_line(request, state, status, now - started, ttfb, response if whole else None)
        metrics.request_finished(request.path, state, status, now - started, ttfb)
        if metrics.key_labels:  # --metrics-key-labels
            metrics.key_finished(*key_names(request, state.route, state.option_path), state, status)
        if state.span is not None:
            tracing.end_request(state.span, state, status, route_label(request.path), response)
    if whole:
        response.headers[TRACE_HEADER] = state.trace_id
    return response


def answer_starting(request: web.Request, response: web.StreamResponse) -> None:
    """What an answer's headers get just before they go out: its overhead figure, its
    trace id and, for an admitted request, the limits' remaining-headers. A whole answer gets them
    from the context middleware; a stream from the relay, which calls this right
    before it prepares the response (no on_response_prepare receiver: aiohttp skips
    the signal, a coroutine less per answer), and counts as a stream in flight
    until the context middleware ends it."""
    state = request[STATE_KEY]
    add_limit_headers(request, response)
    if state.overhead is not None:
        return
    routed = request.get(ROUTED)
    if routed is not None:
        state.waited = _waited(routed)  # the upstreams' time so far is not overhead
    set_overhead(state, response.headers)
    response.headers[TRACE_HEADER] = state.trace_id
    state.streaming = True
    request.app[METRICS].stream_started()


def _waited(routed: Routed) -> float:
    """Seconds spent awaiting upstreams and backoffs, routing's and the relay's."""
    relayed = routed.relay
    return routed.waited + relayed.waited if relayed is not None else routed.waited


def _absorb(state: RequestState, routed: Routed) -> None:
    """What routing and the relay reported → the request's state (its one writer)."""
    state.waited = _waited(routed)
    state.answer_span = routed.answer_span  # tracing: ended with the request's span
    if routed.provider is not None:
        state.provider = routed.provider
        state.option_path = routed.option_path
    if routed.attempts:
        state.attempts = [record.fields() for record in routed.attempts]
    state.model = routed.answered_model
    state.cache_status = routed.cache
    relayed = routed.relay
    if relayed is None:
        return
    state.usage = relayed.usage
    state.upstream_request_id = relayed.upstream_request_id
    state.body_bytes_out = relayed.bytes_out
    state.first_byte_at = relayed.first_byte_at
    state.stream_error = relayed.stream_error
    if isinstance(relayed.stream_error, GatewayShutdown):
        state.ended = ENDED_BY_SHUTDOWN  # the drain's deadline ended the stream in band
    state.client_gone = relayed.client_gone
    state.chunks_out = relayed.chunks_out
    state.finish_reasons = relayed.finish_reasons


def new_trace_id() -> str:
    """32 hex digits, as ``uuid.uuid4().hex`` (version 4, RFC 4122 variant), from the
    process's Mersenne Twister (reseeded in a forked worker) rather than a getrandom()
    system call: a trace id must be unique, not secret."""
    return f"{getrandbits(128) & _V4_CLEAR | _V4_SET:032x}"


# uuid4's fixed bits: version 4 in bits 76-79, variant 10 in bits 62-63.
_V4_CLEAR = ~((0xF << 76) | (0x3 << 62))
_V4_SET = (0x4 << 76) | (0x2 << 62)


def _http_exception(request: web.Request, exc: web.HTTPException, anthropic: bool) -> web.Response:
    if exc.status == 404:
        error = NotFound("unknown route: this gateway serves the OpenAI API under /v1/")
    elif exc.status == 405:
        # Neither the path (it may hold an id or a key) nor the method is echoed.
        allowed = ", ".join(sorted(exc.headers.get("Allow", "").split(",")))
        error = MethodNotAllowed(f"method not allowed here; allowed: {allowed}")
    else:
        error = GatewayError(exc.reason, status=exc.status, type="invalid_request_error", code="http_error")
    response = error.response(anthropic=anthropic)
    for name in ("Allow",):
        if name in exc.headers:
            response.headers[name] = exc.headers[name]
    return response


def _access_line(
    request: web.Request, state: RequestState, status: int, duration: float, ttfb: float | None, whole
) -> None:
    """One JSON line per request (``whole``: the whole answer about to be sent, else None)."""
    fields = {
        "trace_id": state.trace_id,
        "method": request.method,
        "path": request.path,
        "status": status,
        "provider": state.provider,
        "duration_ms": round(duration * 1000, 2),
        "bytes_out": _bytes_out(whole, state),
    }
    if state.option_path is not None:
        fields["option"] = state.option_path
    if state.attempts:
        fields["attempts"] = state.attempts
    if state.overhead is not None:
        fields["overhead_ms"] = round(state.overhead * 1000, 2)
    stream_error = state.stream_error
    if stream_error is not None:
        fields["stream_error"] = stream_error.code
        fields["failed"] = "after_first_byte"  # the status was sent; the stream ended with an error event
    elif status >= 400 and status != CLIENT_CLOSED and state.attempts:
        fields["failed"] = "before_first_byte"  # every attempt failed before the client saw a byte
    proxies = request.app[SETTINGS].trusted_proxies
    if proxies.networks:
        # Each proxy may add its own header line rather than extend the one it got.
        client = proxies.client(request.remote, ",".join(request.headers.getall("X-Forwarded-For", ())))
    else:
        client = request.remote
    if client is not None:
        fields["client"] = client
    fields["pid"] = process_id()  # the worker's
    if state.model is not None:
        fields["model"] = state.model
    if state.usage is not None:
        fields["usage"] = state.usage.fields()
    if ttfb is not None:
        fields["ttfb_ms"] = round(ttfb * 1000, 2)
    if state.upstream_request_id is not None:
        fields["upstream_request_id"] = state.upstream_request_id
    if state.cache_status is not None:
        fields["cache"] = state.cache_status
    ended = _ended(state, status)
    if ended is not None:
        fields["ended"] = ended
    write_info_line(access_log, "request", fields)  # isEnabledFor: checked by the caller


def _ended(state: RequestState, status: int) -> str | None:
    """Why the answer ended before its proper end, or None when it did not."""
    if state.ended is not None:
        return state.ended  # set by whoever cut it short (e.g. a shutdown)
    if status == CLIENT_CLOSED:
        return "client_closed"
    error = state.stream_error
    if error is None:
        return None
    return "idle_timeout" if error.code == "stream_idle_timeout" else "upstream_error"


def _bytes_out(whole: web.StreamResponse | None, state: RequestState) -> int:
    """Body bytes sent (streamed answers) or about to be sent (``whole`` answers)."""
    if whole is None:
        return state.body_bytes_out
    body = getattr(whole, "body", None)
    return len(body) if isinstance(body, (bytes, bytearray)) else 0
