"""Gemini errors → OpenAI error objects with the same HTTP status.

Gemini (like every Google API) answers ``{"error": {"code": 429, "message": "...",
"status": "RESOURCE_EXHAUSTED", "details": [...]}}``; the same object may come as an
event in the middle of a stream. The OpenAI object keeps Google's status string,
lower-cased, as ``code``.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import GatewayError

# Google's canonical status → (the HTTP status Google uses for it, nearest OpenAI type).
STATUSES: dict[str, tuple[int, str]] = {
    "INVALID_ARGUMENT": (400, "invalid_request_error"),
    "FAILED_PRECONDITION": (400, "invalid_request_error"),
    "OUT_OF_RANGE": (400, "invalid_request_error"),
    "UNAUTHENTICATED": (401, "authentication_error"),
    "PERMISSION_DENIED": (403, "permission_error"),
    "NOT_FOUND": (404, "invalid_request_error"),
    "ALREADY_EXISTS": (409, "invalid_request_error"),
    "ABORTED": (409, "api_error"),
    "RESOURCE_EXHAUSTED": (429, "rate_limit_error"),
    "CANCELLED": (499, "api_error"),
    "INTERNAL": (500, "api_error"),
    "UNKNOWN": (500, "api_error"),
    "DATA_LOSS": (500, "api_error"),
    "UNIMPLEMENTED": (501, "api_error"),
    "UNAVAILABLE": (503, "api_error"),
    "DEADLINE_EXCEEDED": (504, "timeout_error"),
}


def gateway_error(error: Any, *, status: int | None = None) -> GatewayError:
    """A Google ``error`` object → GatewayError (status from the object unless given)."""
    if not isinstance(error, dict):
        error = {}
    google_status = error.get("status") if isinstance(error.get("status"), str) else None
    default_status, openai_type = STATUSES.get(google_status or "", (None, None))
    code = error.get("code")
    if status is None:
        status = code if isinstance(code, int) and 400 <= code <= 599 else default_status or 500
    if openai_type is None:
        openai_type = _type_for(status)
    message = (
        error.get("message")
        if isinstance(error.get("message"), str) and error["message"]
        else "google reported an error"
    )
    return GatewayError(message, status=status, type=openai_type, code=(google_status or "upstream_error").lower())


def _type_for(status: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        429: "rate_limit_error",
    }.get(status, "api_error" if status >= 500 else "invalid_request_error")


def translate_error(status: int, body: bytes) -> bytes:
    """The upstream's error body, whatever it is, as an OpenAI error JSON."""
    return error_for(status, body).body()


def error_for(status: int, body: bytes) -> GatewayError:
    """The upstream's error body, whatever it is, as a GatewayError with its status."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    # Google sometimes wraps the object in a list (streaming endpoints without alt=sse).
    if isinstance(payload, list) and payload and isinstance(payload[0], dict):
        payload = payload[0]
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return gateway_error(payload["error"], status=status)
    snippet = body[:200].decode("utf-8", "replace").strip()
    return GatewayError(
        f"google answered HTTP {status}" + (f": {snippet}" if snippet else ""),
        status=status,
        type=_type_for(status),
        code="upstream_error",
    )
