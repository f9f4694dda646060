"""OpenAI embeddings ↔ Vertex ``publishers/google/models/{model}:predict`` (pure).

Request: ``{"instances": [{"content": text, "task_type"?, "title"?}], "parameters":
{"outputDimensionality"?}}``, one instance per input string. Answer: ``{"predictions":
[{"embeddings": {"values": [...], "statistics": {"token_count", "truncated"}}}]}``;
the token counts add up to the usage. ``dimensions`` → ``outputDimensionality``; a
``task_type`` (``RETRIEVAL_QUERY``, ``SEMANTIC_SIMILARITY``, ...) or ``title`` the
client adds goes on every instance. ``encoding_format: "base64"`` is honoured.
"""

from __future__ import annotations

from typing import Any

import orjson

from ...errors import BadRequest, UpstreamBroken
from ..google.embeddings import _encode


def predict_request(body: dict[str, Any]) -> dict[str, Any]:
    value = body.get("input")
    texts = [value] if isinstance(value, str) else value
    if not isinstance(texts, list) or not texts or not all(isinstance(item, str) for item in texts):
        raise BadRequest(
            "input: vertex-ai embeds text: a string or a non-empty list of strings", code="invalid_input", param="input"
        )
    extra = {key: body[key] for key in ("task_type", "title") if isinstance(body.get(key), str)}
    request: dict[str, Any] = {"instances": [{"content": text, **extra} for text in texts]}
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise BadRequest("dimensions: must be a positive integer", code="invalid_value", param="dimensions")
        request["parameters"] = {"outputDimensionality": dimensions}
    return request


def predict_response(body: bytes, model: str, encoding_format: Any) -> bytes:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    predictions = answer.get("predictions") if isinstance(answer, dict) else None
    if not isinstance(predictions, list) or not all(
        isinstance(p, dict) and isinstance(p.get("embeddings"), dict) for p in predictions
    ):
        raise UpstreamBroken("vertex-ai answered 2xx with a body that is not a predict (embeddings) response")
    data = []
    tokens = 0
    for index, prediction in enumerate(predictions):
        embedding = prediction["embeddings"]
        data.append(
            {
                "object": "embedding",
                "index": index,
                "embedding": _encode(embedding.get("values") or [], encoding_format),
            }
        )
        count = (embedding.get("statistics") or {}).get("token_count")
        if isinstance(count, int | float) and not isinstance(count, bool):
            tokens += int(count)
    usage = {"prompt_tokens": tokens, "total_tokens": tokens}
    return orjson.dumps({"object": "list", "data": data, "model": model, "usage": usage})
