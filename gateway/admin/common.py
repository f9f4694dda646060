"""What every admin handler shares: the admin key check, store errors → JSON, audit lines."""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from ..errors import GatewayError, NotFound
from ..store import Conflict, MasterKeyError, StoreError
from ..store.runtime import STORE_RUNTIME, StoreRuntime

audit_log = logging.getLogger("gateway.audit")

ADMIN_KEY_HEADER = "x-portkey-api-key"  # where the portkey-ai SDK sends its api_key


class AdminDisabled(GatewayError):
    status = 403
    type = "permission_error"
    code = "admin_api_disabled"


class BadAdminKey(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_admin_key"


class Duplicate(GatewayError):
    status = 409
    type = "invalid_request_error"
    code = "conflict"


class StoreUnavailable(GatewayError):
    status = 503
    type = "api_error"
    code = "store_unavailable"


def admin_runtime(request: web.Request) -> StoreRuntime:
    """The store, once the request has shown the admin key (constant-time comparison)."""
    runtime = request.app.get(STORE_RUNTIME)
    if runtime is None or runtime.admin_key is None:
        raise AdminDisabled("the admin API is off: start the gateway with --admin-key-file (GATEWAY_ADMIN_KEY_FILE)")
    presented = request.headers.get(ADMIN_KEY_HEADER)
    if presented is None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        presented = token.strip() if scheme.lower() == "bearer" else ""
    if not hmac.compare_digest(presented.encode(), runtime.admin_key):
        raise BadAdminKey(f"the admin API needs the admin key in the {ADMIN_KEY_HEADER} header")
    return runtime


Handler = Callable[[web.Request, StoreRuntime], Awaitable[web.StreamResponse]]


def admin_handler(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Checks the admin key, maps store failures to JSON errors."""

    async def handle(request: web.Request) -> web.StreamResponse:
        runtime = admin_runtime(request)
        try:
            return await handler(request, runtime)
        except MasterKeyError as exc:
            raise StoreUnavailable(str(exc), code="master_key_missing") from None
        except Conflict:
            raise Duplicate("an object with this slug already exists") from None
        except StoreError:
            logging.getLogger("gateway.store").exception("store error")
            raise StoreUnavailable("the key store cannot be reached; see the gateway log") from None

    return handle


def ok(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")


def listing(items: list[dict[str, Any]], total: int | None = None) -> web.Response:
    return ok({"object": "list", "total": len(items) if total is None else total, "data": items})


def not_found(kind: str, ref: str) -> NotFound:
    return NotFound(f"no {kind} {ref!r}", code=f"{kind.replace(' ', '_')}_not_found")


def audit(request: web.Request, action: str, object_id: str, **fields: Any) -> None:
    """One line per admin action: who (the admin, from where), what, which object; never a secret."""
    audit_log.info(
        action,
        extra={"fields": {"actor": "admin", "remote": request.remote, "action": action, "id": object_id, **fields}},
    )


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def new_id() -> str:
    import uuid

    return str(uuid.uuid4())


_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug_from(name: str, prefix: str = "") -> str:
    """``My OpenAI key`` → ``my-openai-key-3f9a1c``: readable, and unique by its random tail."""
    base = _NOT_SLUG.sub("-", name.lower()).strip("-")[:24].strip("-") or "key"
    return f"{prefix}{base}-{secrets.token_hex(3)}"


async def not_allowed(request: web.Request) -> web.Response:
    raise GatewayError(
        f"{request.method} is not allowed on {request.path}", status=405, type="invalid_request_error",
        code="method_not_allowed",
    )


async def unknown_admin_route(request: web.Request) -> web.Response:
    admin_runtime(request)
    raise NotFound(f"unknown admin route {request.path}")
