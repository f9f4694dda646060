"""Vertex errors → OpenAI error objects.

Vertex itself (auth, quota, a model it does not know) answers in Google's shape,
``{"error": {"code", "message", "status"}}``, whichever publisher was called; a Claude
model's own errors (through ``rawPredict``) come in Anthropic's shape,
``{"type": "error", "error": {"type", "message"}}``. The shape decides the translation.
"""

from __future__ import annotations

import orjson

from ..anthropic.errors import translate_error as anthropic_error
from ..google.errors import translate_error as google_error


def translate_error(status: int, body: bytes) -> bytes:
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        payload = None
    if isinstance(payload, dict) and payload.get("type") == "error":
        return anthropic_error(status, body)
    return google_error(status, body)
