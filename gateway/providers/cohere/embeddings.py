"""OpenAI embeddings ↔ Cohere ``POST /v2/embed`` (pure).

Request: ``{"model", "texts": [...], "input_type", "embedding_types": ["float"]}``;
``input_type`` is the client's (``search_document``, ``search_query``,
``classification``, ``clustering``), else ``search_document``; ``dimensions`` →
``output_dimension``. Answer: ``{"embeddings": {"float": [[...], ...]}, "meta":
{"billed_units": {"input_tokens"}}}``; the billed tokens are the usage.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import BadRequest, UpstreamBroken
from ..google.embeddings import _encode

DEFAULT_INPUT_TYPE = "search_document"


def embed_request(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(item, str) for item in texts):
        raise BadRequest(
            "input: cohere embeds text: a string or a non-empty list of strings", code="invalid_input", param="input"
        )
    input_type = body.get("input_type") if isinstance(body.get("input_type"), str) else DEFAULT_INPUT_TYPE
    request: dict[str, Any] = {
        "model": body.get("model"),
        "texts": texts,
        "input_type": input_type,
        "embedding_types": ["float"],
    }
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise BadRequest("dimensions: must be a positive integer", code="invalid_value", param="dimensions")
        request["output_dimension"] = dimensions
    return request


def embed_response(body: bytes, model: str, encoding_format: Any) -> bytes:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    embeddings = answer.get("embeddings") if isinstance(answer, dict) else None
    vectors = embeddings.get("float") if isinstance(embeddings, dict) else None
    if not isinstance(vectors, list):
        raise UpstreamBroken("cohere answered 2xx with a body that is not an embed response (float embeddings)")
    data = [
        {"object": "embedding", "index": i, "embedding": _encode(v, encoding_format)} for i, v in enumerate(vectors)
    ]
    billed = ((answer.get("meta") or {}).get("billed_units") or {}).get("input_tokens")
    tokens = int(billed) if isinstance(billed, int | float) and not isinstance(billed, bool) else 0
    return orjson.dumps(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )
