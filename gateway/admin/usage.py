"""``GET /v1/api-keys/{id}/usage`` and ``GET /v1/virtual-keys/{slug}/usage``: per day.

``?from=YYYY-MM-DD&to=YYYY-MM-DD`` (UTC days; both default to today). Each day:
requests, input / output / cached tokens, cost in USD (a string, exact), and the
requests whose model had no price.
"""

from __future__ import annotations

from aiohttp import web

from ..errors import BadRequest, GatewayError
from ..limits.counters import CountersUnavailable
from ..limits.usage_report import BadRange, day_range, usage_report
from ..store.runtime import StoreRuntime
from .common import admin_handler, not_found, ok


def _counters(request: web.Request):
    from ..middlewares.limits import LIMITS  # the middleware package imports the admin paths

    runtime = request.app.get(LIMITS)
    if runtime is None:
        raise GatewayError("usage counters are not open on this gateway", status=503, code="limits_unavailable")
    return runtime.counters


async def _report(request: web.Request, scope: str) -> web.Response:
    try:
        first, last = day_range(request.query.get("from"), request.query.get("to"))
    except BadRange as exc:
        raise BadRequest(str(exc), param=str(exc).split(":")[0]) from None
    try:
        return ok(await usage_report(_counters(request), scope, first, last))
    except (CountersUnavailable, TimeoutError, OSError) as exc:
        raise GatewayError(f"usage counters unreachable: {type(exc).__name__}", status=503, code="limits_unavailable") from None


@admin_handler
async def api_key_usage(request: web.Request, runtime: StoreRuntime) -> web.Response:
    key_id = request.match_info["id"]
    if await runtime.store.get_api_key(key_id) is None:
        raise not_found("api key", key_id)
    return await _report(request, f"api-key:{key_id}")


@admin_handler
async def virtual_key_usage(request: web.Request, runtime: StoreRuntime) -> web.Response:
    slug = request.match_info["slug"]
    if await runtime.store.get_virtual_key(slug) is None:
        raise not_found("virtual key", slug)
    return await _report(request, f"virtual-key:{slug}")
