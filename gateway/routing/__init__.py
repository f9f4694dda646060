"""From a RouteSpec to an answer: the attempts made upstream, then the relay.

Retries and fallbacks all happen before the client sees a byte (``strategies.run``
returns one Outcome, every other attempt already discarded); then the answer is
relayed, and its status is fixed. A failure after that point ends the stream with an
error event (``streaming.relay``), and the access line says so.

What happened is reported, not written into the request's state: ``answer`` publishes
a :class:`Routed` record on the request (``ROUTED``), filled as routing and the relay
go, which the context middleware reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aiohttp import web

from ..cache import DISABLED, RESPONSE_CACHE
from ..config import RouteSpec
from ..errors import speaks_anthropic
from ..observability import TRACING
from ..providers.base import Call
from ..settings import SETTINGS
from ..streaming.relay import relay
from ..streaming.usage_filter import USAGE_FILTER
from ..upstream import TRANSPORT
from ..usage import Usage
from .attempt import MetadataOf, Outcome, RouteContext, header_metadata, idle_timeout
from .records import ROUTED, AttemptRecord, RelayResult, Routed
from .strategies import route_outcome
from .tools import ROUTING_TOOLS, RoutingTools, tools_of

NO_USAGE = Usage()

__all__ = ["ROUTED", "ROUTING_TOOLS", "AttemptRecord", "RelayResult", "Routed", "RoutingTools", "answer"]


async def answer(
    request: web.Request,
    call: Call,
    route: RouteSpec,
    trace_id: str,
    in_flight: Any = None,
    *,
    span: Any = None,
    metadata_of: MetadataOf = header_metadata,
    starting: Callable[[web.Request, web.StreamResponse], None] | None = None,
) -> web.StreamResponse:
    """Route ``call`` and relay the answer; ``in_flight`` (the worker's InFlight) can
    cut the relay at a shutdown's deadline; ``span`` is the request's trace span
    (None without tracing), parent of each attempt's; ``metadata_of`` reads what
    ``metadata.*`` means for conditions (the request's, with its key's defaults)."""
    routed = Routed()
    request[ROUTED] = routed  # before any attempt: a client that leaves mid-way is reported too
    app = request.app
    ctx = RouteContext(
        request, call, route, tools_of(app), app[TRANSPORT], routed, trace_id, app[TRACING], span, metadata_of
    )
    outcome = await route_outcome(ctx, route.root)
    routed.option_path = outcome.leaf.path
    routed.provider = outcome.leaf.target.provider
    if outcome.cache is not None:
        routed.cache = outcome.cache.status
    headers = response_headers(outcome)
    if outcome.error is not None:
        outcome.error.headers.update(headers)
        raise outcome.error
    routed.relay = result = RelayResult()
    ticket = outcome.cache
    if ticket is not None:
        result.recording = ticket.recording(app[RESPONSE_CACHE].max_entry)
    async with outcome.answer as upstream:  # the one owner: released or cut once relayed
        response = await relay(
            request,
            upstream,
            result,
            extra_headers=headers,
            idle_timeout=idle_timeout(outcome.leaf.target, app[SETTINGS]),
            translator=outcome.translator,
            wants_stream=outcome.call.wants_stream,
            stream_translator=outcome.stream_translator,
            first_out=outcome.first_out,
            sniff_model=routed.model is None,
            anthropic=speaks_anthropic(request.path),
            in_flight=in_flight,
            watch_finish=span is not None,
            # A hit replays the bytes its first client got, already filtered.
            usage_filter=request.get(USAGE_FILTER) if ticket is None or ticket.hit is None else None,
            starting=starting,
        )
    if ticket is not None:
        if ticket.hit is not None:
            result.usage = NO_USAGE  # answered from the cache: no upstream tokens
        else:
            await app[RESPONSE_CACHE].finish(ticket, response, result)
    return response


def response_headers(outcome: Outcome) -> dict[str, str]:
    """What the answer tells of its routing (the trace id is the context middleware's:
    every answer carries it, the gateway's own errors too)."""
    return {
        "x-portkey-provider": outcome.leaf.target.provider,
        "x-portkey-last-used-option-index": outcome.leaf.path,
        # Portkey's header says -1 when every retry was used and the target still failed.
        "x-portkey-retry-attempt-count": "-1" if outcome.retries_exhausted else str(outcome.retries),
        "x-portkey-cache-status": outcome.cache.status if outcome.cache is not None else DISABLED,
    }
