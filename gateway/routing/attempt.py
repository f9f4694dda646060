"""One call to one target, up to the first byte the client would see.

Nothing is sent to the client here: an attempt ends with an Outcome holding either an
upstream answer (status and first chunk in; for a translated stream, the first
translated bytes too) or the gateway's own error. The strategies decide whether the
Outcome is answered or discarded in favour of another attempt. The upstream is
reached through ``ctx.transport`` (the pooled session, or a test's double).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from yarl import URL

from ..answer import UpstreamAnswer
from ..config import METADATA_HEADER, Leaf, RouteSpec, Target, parse_metadata
from ..errors import GatewayError, IdleTimeout, UpstreamBroken, UpstreamUnreachable
from ..loggable import loggable_url, upstream_request_id
from ..observability.tracing import NO_TRACING, NoTracing, Tracing
from ..providers.base import Call, Provider, ResponseTranslator, StreamTranslator
from ..providers.registry import get_provider
from ..settings import SETTINGS
from ..upstream import Transport, request_deadline
from .records import AttemptRecord, Routed
from .tools import RoutingTools

log = logging.getLogger("gateway.attempt")

MetadataOf = Callable[[web.Request], Mapping[str, Any]]


def header_metadata(request: web.Request) -> Mapping[str, Any]:
    """The request's own ``x-portkey-metadata``."""
    return parse_metadata(request.headers.get(METADATA_HEADER))


@dataclass
class RouteContext:
    """Everything the strategies need for one client request."""

    request: web.Request
    call: Call
    route: RouteSpec
    tools: RoutingTools
    transport: Transport
    # What routing reports (published on the request); the trace id for debug lines.
    routed: Routed = field(default_factory=Routed)
    trace_id: str = ""
    # Tracing (the app's) and the request's span, parent of each attempt's.
    tracing: Tracing | NoTracing = NO_TRACING
    span: Any = None
    # What ``metadata.*`` means for this request (the handler gives the one that adds
    # its API key's default metadata).
    metadata_of: MetadataOf = header_metadata

    def facts(self) -> dict[str, Any]:
        """What conditional routing reads: metadata.*, params.*, url.pathname."""
        return {
            "metadata": self.metadata,
            "params": self.call.json or {},
            "url": {"pathname": self.request.path},
        }

    @functools.cached_property
    def metadata(self) -> Mapping[str, Any]:
        # The request's own, not the (shared, cached) route's; the config middleware
        # has already refused a bad one.
        return self.metadata_of(self.request)


@dataclass
class Outcome:
    leaf: Leaf
    provider: Provider
    call: Call
    answer: UpstreamAnswer | None = None
    error: GatewayError | None = None
    translator: ResponseTranslator | None = None
    # A streamed 2xx answer of a translating provider: its translator, already fed.
    stream_translator: StreamTranslator | None = None
    first_out: bytes = b""
    # Retries made at this target, and whether that was every retry its policy allows
    # (and it still failed).
    retries: int = 0
    retries_exhausted: bool = False
    record: AttemptRecord | None = None
    # The upstream URL this attempt called (for the debug line), once prepared.
    url: URL | None = None
    # What the response cache did at this target (gateway.cache.CacheTicket), if it applies.
    cache: Any = None

    @property
    def status(self) -> int:
        return self.error.status if self.error is not None else self.answer.status

    @property
    def ok(self) -> bool:
        return self.error is None and 200 <= self.answer.status < 300

    @property
    def network_error(self) -> bool:
        """The upstream could not be reached, or hung up before answering."""
        return isinstance(self.error, UpstreamUnreachable)

    def discard(self) -> None:
        """Let go of an answer that will not be relayed (the answer knows how)."""
        if self.answer is not None:
            self.answer.close()
            self.answer = None


def call_for(call: Call, target: Target) -> Call:
    """The call as this target sends it: its own copy of the body with override_params."""
    if not target.override_params or call.json is None:
        return call
    merged = {**call.json, **target.override_params}
    return replace(call, json=merged, body=orjson.dumps(merged))


async def attempt(ctx: RouteContext, leaf: Leaf) -> Outcome:
    app = ctx.request.app
    settings = app[SETTINGS]
    target = leaf.target
    provider = get_provider(target.provider)
    call = call_for(ctx.call, target)
    outcome = Outcome(leaf, provider, call)
    started = time.perf_counter()
    routed = ctx.routed
    tracing = ctx.tracing
    span = tracing.start_attempt(ctx.span, target.provider, call.endpoint, call.json, leaf.path) if tracing.enabled else None
    sent = None  # from sending until the first output: time awaiting the upstream
    try:
        upstream_request = provider.prepare(call, target)
        outcome.url = upstream_request.url
        if call.body_stream is not None and call.content_length is not None:
            upstream_request.headers["Content-Length"] = str(call.content_length)
        await provider.authorize(upstream_request, target, app)
        if span is not None:
            tracing.inject(span, upstream_request.headers)  # after signing: traceparent is not signed
        timeout_s, timeout_error = request_deadline(target.request_timeout_ms, settings)
        translator = outcome.translator = provider.translator(call)
        # A translated stream's first output is awaited under the same deadline.
        deadline = asyncio.get_running_loop().time() + timeout_s if translator is not None and call.wants_stream else None
        sent = time.perf_counter()
        outcome.answer = await ctx.transport.open(upstream_request, timeout_s=timeout_s, timeout_error=timeout_error)
        if deadline is not None and outcome.ok:
            outcome.stream_translator = translator.stream_translator()
            outcome.first_out, ended = await _first_output(
                outcome.answer, outcome.stream_translator, idle_timeout(target, settings), (deadline, timeout_error)
            )
            if ended:
                outcome.stream_translator = _EndedStream()
    except GatewayError as exc:
        outcome.discard()
        outcome.error = exc
    except BaseException:
        outcome.discard()  # cancelled (the client left) or a bug: never leak the connection
        if span is not None:
            tracing.cancel_attempt(span)
        raise
    finally:
        if sent is not None:
            routed.waited += time.perf_counter() - sent
    outcome.record = _record(ctx, outcome, started)
    if span is not None and not tracing.end_attempt(span, outcome, outcome.url, answered=outcome.ok):
        routed.answer_span = span  # ended once the answer is relayed, with its usage
    return outcome


async def _first_output(
    answer: UpstreamAnswer,
    stream: StreamTranslator,
    idle_s: float,
    deadline: tuple[float, Callable[[], GatewayError]] | None = None,
) -> tuple[bytes, bool]:
    """Feed the translator until it has bytes for the client; (bytes, upstream ended).

    An error the upstream reports at once (a Bedrock exception frame, an Anthropic
    ``error`` event, a stream that ends before its first event) is then still an
    error before the first byte, with its own status, and can be retried or fall back.

    Two limits, neither re-armed by bytes that translate to nothing (pings, junk):
    ``idle_s`` of silence since the upstream's first chunk, and the request's
    ``deadline`` (loop time, counted from sending the request, and the error its
    expiry answers).
    """
    out = stream.feed(answer.first_chunk) if answer.first_chunk else b""
    read = answer.read
    silent_until = asyncio.get_running_loop().time() + idle_s
    deadline_at, timeout_error = deadline if deadline is not None else (silent_until, None)
    try:
        async with asyncio.timeout_at(min(deadline_at, silent_until)):
            while not out:
                chunk = await read()
                if not chunk:
                    return stream.close(), True
                out = stream.feed(chunk)
    except TimeoutError:
        if timeout_error is not None and deadline_at <= silent_until:
            raise timeout_error() from None
        raise IdleTimeout(idle_s, before_first_event=True) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise UpstreamBroken(f"upstream connection failed before its first event: {type(exc).__name__}") from None
    return out, False


class _EndedStream:
    """Stands in for a translator whose upstream already ended (and was closed)."""

    def feed(self, data: bytes) -> bytes:
        return b""

    def close(self) -> bytes:
        return b""


def idle_timeout(target: Target, settings) -> float:
    """Seconds of upstream silence an answer may have once it has started.

    The target's ``idle_timeout``; else its ``request_timeout`` (a client that gives
    a request 2 s does not wait 300 s for a stalled stream), if shorter than the
    operator's ``--idle-timeout``; else that.
    """
    if target.idle_timeout_ms is not None:
        return target.idle_timeout_ms / 1000
    if target.request_timeout_ms is not None:
        return min(target.request_timeout_ms / 1000, settings.idle_timeout)
    return settings.idle_timeout


def _record(ctx: RouteContext, outcome: Outcome, started: float) -> AttemptRecord:
    """The attempt's record (target path, status, time to answer), added to ``ctx.routed``."""
    model = (outcome.call.json or {}).get("model")
    record = AttemptRecord(
        outcome.leaf.path,
        outcome.leaf.target.provider,
        outcome.status,
        round((time.perf_counter() - started) * 1000, 2),
        outcome.error.code if outcome.error is not None else None,
        model if isinstance(model, str) else None,  # after this target's override_params
    )
    ctx.routed.attempts.append(record)
    if log.isEnabledFor(logging.DEBUG):
        # Never headers, never query values: either can hold a key.
        fields = {"trace_id": ctx.trace_id, **record.fields(), "url": loggable_url(outcome.url), "model": model}
        if outcome.answer is not None:
            fields["upstream_request_id"] = upstream_request_id(outcome.answer.headers)
        log.debug("attempt", extra={"fields": fields})
    return record
