"""OpenAI embeddings ↔ Bedrock InvokeModel for Titan and Cohere embedding models.

* Amazon Titan (``amazon.titan-embed-*``) embeds one text per call:
  ``{"inputText", "dimensions"?}`` → ``{"embedding", "inputTextTokenCount"}``.
* Cohere (``cohere.embed-*``) embeds a list: ``{"texts", "input_type"}`` →
  ``{"embeddings": [[...]] | {"float": [[...]]}}``. ``input_type`` is required by
  Cohere; the client may send it (an extra body field), else ``search_document``.
  Cohere's body reports no token count, so usage is 0 there.

``encoding_format: "base64"`` (the official SDK's default) is honoured: float32
little-endian, base64-encoded, as OpenAI sends it.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import orjson

from .blocks import fail
from .converse_response import parse_json_object


def family(model: str) -> str:
    # Model ids may carry a region prefix or be ARNs; the family is in the name.
    name = model.rsplit("/", 1)[-1]
    if "titan-embed" in name:
        return "titan"
    if "cohere.embed" in name:
        return "cohere"
    raise fail(
        f"model: {model!r} is not a Bedrock embedding model this gateway knows "
        "(amazon.titan-embed-*, cohere.embed-*)",
        "model",
    )


def embeddings_request(body: dict[str, Any], model: str) -> dict[str, Any]:
    texts = _texts(body.get("input"))
    if family(model) == "titan":
        if len(texts) != 1:
            raise fail("input: Titan embedding models take one text per request", "input")
        request: dict[str, Any] = {"inputText": texts[0]}
        if body.get("dimensions") is not None:
            request["dimensions"] = body["dimensions"]
        return request
    request = {"texts": texts, "input_type": body.get("input_type") or "search_document"}
    if body.get("truncate") is not None:
        request["truncate"] = body["truncate"]
    return request


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(item, str) for item in value):
        return value
    raise fail("input: bedrock embeds text: a string or a non-empty list of strings", "input")


def embeddings_response(body: bytes, model: str, encoding_format: str | None) -> bytes:
    answer = parse_json_object(body, "embeddings answer")
    if family(model) == "titan":
        vectors = [answer.get("embedding") or []]
        tokens = answer.get("inputTextTokenCount") or 0
    else:
        embeddings = answer.get("embeddings") or []
        vectors = embeddings.get("float", []) if isinstance(embeddings, dict) else embeddings
        tokens = 0
    data = [
        {"object": "embedding", "index": index, "embedding": _encode(vector, encoding_format)}
        for index, vector in enumerate(vectors)
    ]
    return orjson.dumps(
        {"object": "list", "data": data, "model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
    )


def _encode(vector: list[float], encoding_format: str | None) -> list[float] | str:
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector
