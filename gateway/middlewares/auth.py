"""Second middleware: the gateway's own client keys, then provider credentials.

Gateway auth is off unless the operator gives keys (``--api-keys-file``) or the store
holds API keys (:mod:`.keys`); then every API request must carry one in
``x-portkey-api-key``. The provider key comes from
``Authorization: Bearer <key>`` (or ``x-api-key``, as the Anthropic SDK sends it) and
is kept on the request state, never logged.
"""

from __future__ import annotations

import hmac

from aiohttp import web

from ..errors import Unauthorized
from ..header_values import checked_client_value
from ..settings import SETTINGS
from ..store.runtime import STORE_RUNTIME
from .keys import CLIENT_KEY, GATEWAY_KEY_HEADER, stored_key
from .state import STATE_KEY


@web.middleware
def auth_middleware(request: web.Request, handler):
    # Not a coroutine: it awaits nothing, so it hands on the handler's awaitable rather
    # than adding a frame that every resumption of the request (each chunk of a stream)
    # passes through. An error it raises reaches the context middleware all the same.
    state = request[STATE_KEY]
    if not state.api:
        return handler(request)
    app = request.app
    keys = app[SETTINGS].api_keys
    runtime = app.get(STORE_RUNTIME)
    if keys or (runtime is not None and runtime.view.current.api_keys):
        presented = request.headers.get(GATEWAY_KEY_HEADER, "")
        if not (keys and _in_keys_file(presented, keys)):
            if runtime is None or not runtime.view.current.api_keys:
                raise Unauthorized(
                    f"this gateway requires a valid gateway key in the {GATEWAY_KEY_HEADER} header",
                    code="invalid_gateway_key",
                )
            request[CLIENT_KEY] = stored_key(presented, runtime)
    state.header_api_key = provider_key(request)
    return handler(request)


def _in_keys_file(presented: str, keys: frozenset[str]) -> bool:
    # aiohttp hands over header bytes that are not UTF-8 as lone surrogates; encoded
    # back with surrogateescape they are the bytes sent (matching no key), never a 500.
    presented_bytes = presented.encode("utf-8", "surrogateescape")
    # Compare against every key so the time taken does not tell which one was close.
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(presented_bytes, key.encode())
    return matched


def provider_key(request: web.Request) -> str | None:
    """The client's provider key; one that cannot be sent upstream is a 400 naming its header."""
    authorization = request.headers.get("Authorization", "")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return checked_client_value(token.strip(), "Authorization")
    if authorization and not token:
        return checked_client_value(authorization.strip(), "Authorization")
    key = request.headers.get("x-api-key")
    return checked_client_value(key, "x-api-key") if key else None
