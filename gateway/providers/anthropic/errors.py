"""Anthropic errors → OpenAI error objects with the same meaning.

Anthropic's body is ``{"type": "error", "error": {"type": ..., "message": ...}}``.
The OpenAI object keeps Anthropic's error type as ``code``, so nothing is lost.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError

# Anthropic error type → (HTTP status Anthropic uses for it, nearest OpenAI error type).
ERROR_TYPES: dict[str, tuple[int, str]] = {
    "invalid_request_error": (400, "invalid_request_error"),
    "authentication_error": (401, "authentication_error"),
    "billing_error": (402, "billing_error"),
    "permission_error": (403, "permission_error"),
    "not_found_error": (404, "invalid_request_error"),
    "request_too_large": (413, "invalid_request_error"),
    "rate_limit_error": (429, "rate_limit_error"),
    "timeout_error": (504, "timeout_error"),
    "api_error": (500, "api_error"),
    "overloaded_error": (529, "api_error"),
}


def gateway_error(error: Any, *, status: int | None = None) -> GatewayError:
    """An Anthropic ``error`` object → GatewayError (status from the type unless given)."""
    if not isinstance(error, dict):
        error = {}
    anthropic_type = error.get("type") if isinstance(error.get("type"), str) else "api_error"
    default_status, openai_type = ERROR_TYPES.get(anthropic_type, (500, "api_error"))
    message = error.get("message") if isinstance(error.get("message"), str) else "anthropic reported an error"
    return GatewayError(message, status=status or default_status, type=openai_type, code=anthropic_type)


def translate_error(status: int, body: bytes) -> bytes:
    """The upstream's error body, whatever it is, as an OpenAI error JSON."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return gateway_error(payload["error"], status=status).body()
    # Not Anthropic's JSON (a proxy's HTML page, say): say what came back, briefly.
    snippet = body[:200].decode("utf-8", "replace").strip()
    return GatewayError(
        f"anthropic answered HTTP {status}" + (f": {snippet}" if snippet else ""),
        status=status,
        type="api_error" if status >= 500 else "invalid_request_error",
        code="upstream_error",
    ).body()
