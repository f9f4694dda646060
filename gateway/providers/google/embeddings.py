"""OpenAI embeddings ↔ Gemini ``embedContent`` / ``batchEmbedContents`` (pure).

* one string → ``models/{model}:embedContent`` ``{"content": {"parts": [{"text"}]}}``
  → ``{"embedding": {"values": [...]}}``;
* a list of strings → ``models/{model}:batchEmbedContents`` ``{"requests": [{"model":
  "models/{model}", "content": ...}, ...]}`` → ``{"embeddings": [{"values"}, ...]}``.

``dimensions`` → ``outputDimensionality``; a ``task_type`` the client adds (Gemini's
``RETRIEVAL_QUERY``, ``SEMANTIC_SIMILARITY``, ...) → ``taskType``. Token arrays (which
OpenAI also takes) mean nothing to Gemini: a 400. Gemini reports no token counts
for embeddings, so usage is 0. ``encoding_format: "base64"`` (the official SDK's
default) is honoured: float32 little-endian, base64, as OpenAI sends it.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from ...errors import BadRequest, UpstreamBroken


def embed_operation(body: dict[str, Any]) -> str:
    return "embedContent" if isinstance(body.get("input"), str) else "batchEmbedContents"


def embeddings_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    value = body.get("input")
    options: dict[str, Any] = {}
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if isinstance(dimensions, bool) or not isinstance(dimensions, int) or dimensions < 1:
            raise BadRequest("dimensions: must be a positive integer", code="invalid_value", param="dimensions")
        options["outputDimensionality"] = dimensions
    if isinstance(body.get("task_type"), str):
        options["taskType"] = body["task_type"]
    if isinstance(value, str):
        return {"content": _content(value), **options}
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return {"requests": [{"model": f"models/{model}", "content": _content(item), **options} for item in value]}
    raise BadRequest(
        "input: google embeds text: a string or a non-empty list of strings", code="invalid_input", param="input"
    )


def _content(text: str) -> dict[str, Any]:
    return {"parts": [{"text": text}]}


def embeddings_response(body: bytes, model: str, encoding_format: Any) -> bytes:
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        answer = None
    if isinstance(answer, dict) and isinstance(answer.get("embedding"), dict):
        embeddings = [answer["embedding"]]
    elif isinstance(answer, dict) and isinstance(answer.get("embeddings"), list):
        embeddings = answer["embeddings"]
    else:
        raise UpstreamBroken("google answered 2xx with a body that is not an embeddings response")
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(embedding.get("values") or [], encoding_format)}
        for index, embedding in enumerate(embeddings)
    ]
    return orjson.dumps(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": 0, "total_tokens": 0}}
    )


def _encode(vector: list[float], encoding_format: Any) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector
