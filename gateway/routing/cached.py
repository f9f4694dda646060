"""A target with a cache: the lookup before its calls, a hit in place of them.

A hit is an Outcome like any other, holding the cached answer (a BytesAnswer,
status 2xx): the strategies take it as a success, so it never triggers a retry or a
fallback, and no upstream is called. A miss goes on to the target's calls (with
their retries); its ticket rides on the Outcome, so that the answer is stored once
relayed (``routing.answer``).
"""

from __future__ import annotations

from ..cache import RESPONSE_CACHE
from ..config import Leaf
from ..providers.registry import get_provider
from .attempt import Outcome, RouteContext, call_for
from .retry import call_with_retry


async def call_cached(ctx: RouteContext, leaf: Leaf) -> Outcome:
    if leaf.cache is None:
        return await call_with_retry(ctx, leaf)
    cache = ctx.request.app.get(RESPONSE_CACHE)
    if cache is None:  # --cache-backend off
        return await call_with_retry(ctx, leaf)
    call = call_for(ctx.call, leaf.target)
    ticket = await cache.begin(ctx.request, call, leaf)
    if ticket.hit is not None:
        return Outcome(leaf, get_provider(leaf.target.provider), call, answer=ticket.hit.answer(), cache=ticket)
    outcome = await call_with_retry(ctx, leaf)
    outcome.cache = ticket
    return outcome
