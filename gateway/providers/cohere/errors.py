"""Cohere errors → OpenAI error objects with the same HTTP status.

Cohere answers ``{"id": "...", "message": "..."}`` (older answers: ``{"message"}``)
with the status saying what went wrong: 400 / 422 invalid request, 401 / 498 bad key,
402 billing, 404, 429 rate or trial limit, 499 cancelled, 500 / 503 / 504 its own.
"""

from __future__ import annotations

import orjson

from ...errors import GatewayError

_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
    498: "authentication_error",
}


def gateway_error(status: int, message: str | None) -> GatewayError:
    openai_type = _TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    # The status is the upstream's (a translator shapes the body only): Cohere's 498
    # ("invalid token") reaches the client as 498, typed authentication_error.
    return GatewayError(
        message or f"cohere answered HTTP {status}",
        status=status,
        type=openai_type,
        code="cohere_error",
    )


def translate_error(status: int, body: bytes) -> bytes:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    message = payload.get("message") if isinstance(payload, dict) else None
    if not isinstance(message, str) or not message:
        snippet = body[:200].decode("utf-8", "replace").strip()
        message = f"cohere answered HTTP {status}" + (f": {snippet}" if snippet else "")
    return gateway_error(status, message).body()
