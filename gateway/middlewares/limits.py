"""Limits on the request path (``gateway.limits``): admit before the call, charge after.

The fourth middleware (after config: it needs the route and the client's key). A
request whose API key or virtual keys carry ``rate_limits`` / ``usage_limits`` is
admitted with one ``admit`` round trip (request limits charged atomically, token
windows and budgets checked), refused with a 429 / 412 / 400 / 503 from
:func:`.responses.limit_error`, and answered with the remaining-headers (added when
the response is prepared, so streamed answers carry them too). When the answer has
ended (a cancelled stream included) its usage is charged in a task the request's
cancellation does not reach, and a crossed ``alert_threshold`` is logged and, if
``--alert-webhook-url`` is set, POSTed there (with a timeout, never on the request's
time). A request without limits costs two dict lookups.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

from ..limits.counters import AlertCrossed, LimitCounters, Subject
from ..limits.factory import open_counters
from ..limits.model import Limits, LimitsError, parse_limits
from ..limits.pricing import PriceTable, load_price_table
from ..limits.responses import limit_error, limit_headers
from ..redis_client import REDIS
from ..request_keys import preset
from ..routing.records import ROUTED
from ..settings import SETTINGS
from ..store.runtime import STORE_RUNTIME
from ..streaming.usage_filter import NEEDS_USAGE
from ..usage import Usage
from .keys import CLIENT_KEY
from .state import state_of
from .stored_routes import BODY_READ, body_model

log = logging.getLogger("gateway.limits")

WEBHOOK_TIMEOUT_S = 5.0


@dataclass
class LimitsRuntime:
    counters: LimitCounters
    prices: PriceTable
    webhook_url: str | None = None
    session: aiohttp.ClientSession | None = None
    pending: set[asyncio.Task] = field(default_factory=set)  # webhook posts
    # Parsed limits per stored record (the view replaces records when they change).
    _parsed: dict[int, tuple[object, Subject | None]] = field(default_factory=dict)
    # What limits a request, per (API key record, route) of the store's current view:
    # the same objects while those are (routes are cached), so a request reads it with
    # one lookup. Emptied when the view changes (it must not keep old views alive).
    _limited: dict[tuple[int, int], tuple[object, object, Limited | None]] = field(default_factory=dict)
    _limited_view: object = None

    def subject_of(self, record, kind: str, name: str) -> Subject | None:
        """``record``'s limits as a :class:`Subject` named ``kind:name`` (None: no limits);
        the same object while the record is (so the counters' plan caches hit)."""
        if record.rate_limits is None and record.usage_limits is None:
            return None
        entry = self._parsed.get(id(record))
        if entry is not None and entry[0] is record:
            return entry[1]
        if len(self._parsed) > 4096:
            self._parsed.clear()
        try:
            limits = parse_limits(
                list(record.rate_limits) if record.rate_limits is not None else None, record.usage_limits
            )
        except LimitsError as exc:  # checked when stored; a hand-edited row must not pass unlimited
            log.error("unreadable limits; refusing its requests", extra={"fields": {"id": record.id, "error": str(exc)}})
            raise
        subject = None if limits.is_empty else Subject(f"{kind}:{name}", limits)
        self._parsed[id(record)] = (record, subject)
        return subject

    def alert(self, alert: AlertCrossed) -> None:
        """A crossed alert_threshold (already logged): POST it to the webhook, if any."""
        if self.session is not None and self.webhook_url:
            task = asyncio.get_running_loop().create_task(_post_alert(self, alert))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)

    async def charged(self) -> None:
        """Wait until the answers given so far are charged and their webhooks posted."""
        await self.counters.flush()
        if self.pending:
            await asyncio.wait(set(self.pending))


LIMITS = web.AppKey("limits", LimitsRuntime)


@dataclass(frozen=True, slots=True, eq=False)
class Limited:
    """The limits on one API key and route: whose counters, and what they need."""

    subjects: tuple[Subject, ...]
    needs_model: bool  # a credit limit: the model's price decides admission
    counts_tokens: bool  # token windows or budgets: the answer's usage is needed, streams included


@dataclass(slots=True)
class Admission:
    subjects: tuple[Subject, ...]
    headers: dict[str, str]
    model: str | None


ADMISSION = preset(web.RequestKey("limits_admission", Admission))  # None: not admitted by limits


async def limits_context(app: web.Application) -> AsyncIterator[None]:
    """cleanup_ctx (after the store's): the counters and prices, when there is a store."""
    import os

    settings = app[SETTINGS]
    if app.get(STORE_RUNTIME) is None:  # limits live on stored keys
        yield
        return
    counters = open_counters(settings, os.environ, app.get(REDIS))  # the worker's one Redis client
    runtime = LimitsRuntime(counters, load_price_table(settings.pricing_file))
    runtime.webhook_url = settings.alert_webhook_url
    if runtime.webhook_url:
        runtime.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=WEBHOOK_TIMEOUT_S))
    runtime.counters.on_alert = runtime.alert
    app[LIMITS] = runtime
    try:
        yield
    finally:
        await runtime.counters.close()  # writes the charges still queued (alerts included)
        if runtime.pending:
            await asyncio.wait(set(runtime.pending))
        if runtime.session is not None:
            await runtime.session.close()


@web.middleware
def limits_middleware(request: web.Request, handler):
    # Not a coroutine (as auth's): a request without limits gets the handler's awaitable
    # as it is, with no frame of ours for each resumption (each chunk of a stream).
    runtime = request.app.get(LIMITS)
    if runtime is None or not state_of(request).api:
        return handler(request)
    limited = limited_of(request, runtime)
    if limited is None:
        return handler(request)
    return _limited(request, handler, runtime, limited)


async def _limited(request: web.Request, handler, runtime: LimitsRuntime, limited: Limited):
    model = None
    priced = True
    if limited.needs_model:
        model = await _asked_model(request)
        priced = model is not None and runtime.prices.price(state_of(request).provider or "", model) is not None
    decision = await runtime.counters.admit(limited.subjects, priced=priced)
    if not decision.allowed:
        raise limit_error(decision, model=model)
    request[ADMISSION] = Admission(limited.subjects, limit_headers(decision), model)
    if limited.counts_tokens:
        request[NEEDS_USAGE] = True  # a stream is asked for its usage (streaming/usage_filter.py)
        request[BODY_READ] = True  # which needs the body whole
    try:
        return await handler(request)
    finally:
        charge(request, runtime)


def limited_of(request: web.Request, runtime: LimitsRuntime) -> Limited | None:
    """:func:`subjects_of` and what they need (None: no limits), cached while the API
    key's record, the route and the store's view are the same objects."""
    view = request.app[STORE_RUNTIME].view.current
    if view is not runtime._limited_view:
        runtime._limited.clear()
        runtime._limited_view = view
    client = request.get(CLIENT_KEY)
    record = client.key if client is not None else None
    route = state_of(request).route
    cache_key = (id(record), id(route))
    entry = runtime._limited.get(cache_key)
    if entry is not None and entry[0] is record and entry[1] is route:
        return entry[2]
    subjects = subjects_of(request, runtime)
    limited = None
    if subjects:
        needs_model = any(s.limits.usage_limits is not None and s.limits.usage_limits.credit_limit is not None
                          for s in subjects)
        limited = Limited(subjects, needs_model, any(_counts_tokens(s.limits) for s in subjects))
    if len(runtime._limited) >= 4096:  # routes come and go (an LRU of them): keep it bounded
        runtime._limited.clear()
    runtime._limited[cache_key] = (record, route, limited)
    return limited


def _counts_tokens(limits: Limits) -> bool:
    budget = limits.usage_limits
    return bool(limits.token_limits) or (budget is not None and (budget.token_limit or budget.credit_limit
                                                                  or budget.alert_threshold))


def subjects_of(request: web.Request, runtime: LimitsRuntime) -> tuple[Subject, ...]:
    """The API key's and the route's virtual keys' limits (those that have any)."""
    subjects = []
    client = request.get(CLIENT_KEY)
    if client is not None:
        subject = runtime.subject_of(client.key, "api-key", client.key.id)
        if subject is not None:
            subjects.append(subject)
    route = state_of(request).route
    slugs = {leaf.target.virtual_key for leaf in route.leaves if leaf.target.virtual_key} if route else ()
    if slugs:
        view = request.app[STORE_RUNTIME].view.current
        for slug in sorted(slugs):
            record = view.virtual_key(slug)
            subject = runtime.subject_of(record, "virtual-key", slug) if record is not None else None
            if subject is not None:
                subjects.append(subject)
    return tuple(subjects)


async def _asked_model(request: web.Request) -> str | None:
    route = state_of(request).route
    override = route.target.override_params.get("model") if route is not None else None
    model = override if isinstance(override, str) else await body_model(request)
    return model if isinstance(model, str) else None


def charge(request: web.Request, runtime: LimitsRuntime) -> None:
    """Charge the answer's usage (what streamed, for a stream cut short) after the request."""
    admission = request.get(ADMISSION)
    if admission is None:
        return
    # What routing and the relay report: the context middleware, outside this one,
    # writes it into the request's state only after this runs.
    routed = request.get(ROUTED)
    relayed = routed.relay if routed is not None else None
    # A stream cut short carries the relay's estimate of what it streamed (streaming/cut_usage.py).
    usage = (relayed.usage if relayed is not None else None) or Usage()
    provider = (routed.provider if routed is not None else None) or state_of(request).provider or ""
    model = routed.answered_model if routed is not None else None
    # In integer nano-USD, as the counters hold it (exact; no Decimal arithmetic per answer).
    cost = runtime.prices.cost_nano(provider, model, usage) if model else None
    if cost is None and admission.model:
        cost = runtime.prices.cost_nano(provider, admission.model, usage)
    if cost is None and not usage.total:
        cost = 0  # nothing answered (an error): nothing to price
    runtime.counters.charge_nano_soon(admission.subjects, usage, cost)  # batched with the other answers ending now


async def _post_alert(runtime: LimitsRuntime, alert: AlertCrossed) -> None:
    payload = {
        "event": "usage.alert_threshold_crossed",
        "scope": alert.scope,
        "threshold_usd": str(alert.threshold),
        "spent_usd": str(alert.spent),
        "period": alert.period,
    }
    try:
        async with runtime.session.post(runtime.webhook_url, json=payload) as response:
            if response.status >= 300:
                log.warning("alert webhook refused", extra={"fields": {"status": response.status, "scope": alert.scope}})
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.warning("alert webhook failed", extra={"fields": {"scope": alert.scope, "error": type(exc).__name__}})


def add_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """The remaining-headers of an admitted request (errors included), as its answer's
    headers are about to go out (the context middleware's ``answer_starting``)."""
    admission = request.get(ADMISSION)
    if admission is not None:
        response.headers.update(admission.headers)  # the key's own limits, over the upstream's

