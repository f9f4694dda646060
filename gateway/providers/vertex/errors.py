"""Vertex errors → OpenAI error objects.

Vertex itself (auth, quota, a model it does not know) answers in Google's shape,
``{"error": {"code", "message", "status"}}``, whichever publisher was called; a Claude
model's own errors (through ``rawPredict``) come in Anthropic's shape,
``{"type": "error", "error": {"type", "message"}}``. The shape decides the translation.
"""

from __future__ import annotations

import orjson

from ...errors import GatewayError
from ..anthropic.errors import gateway_error as anthropic_error
from ..google.errors import error_for as google_error


def translate_error(status: int, body: bytes) -> bytes:
    return error_for(status, body).body()


def error_for(status: int, body: bytes) -> GatewayError:
    """Vertex's own errors are Google-shaped; Claude's come in Anthropic's shape."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and payload.get("type") == "error":
        return anthropic_error(payload.get("error"), status=status)
    return google_error(status, body)
