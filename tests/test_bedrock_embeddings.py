"""OpenAI embeddings ↔ Bedrock InvokeModel (Titan, Cohere)."""

from __future__ import annotations

import base64

import orjson
import pytest

from gateway.errors import BadRequest
from gateway.providers.bedrock.embeddings import embeddings_request, embeddings_response


def test_embeddings_requests():
    assert embeddings_request({"input": ["hi"], "dimensions": 256}, "amazon.titan-embed-text-v2:0") == {"inputText": "hi", "dimensions": 256}
    assert embeddings_request({"input": ["a", "b"], "input_type": "search_query"}, "cohere.embed-multilingual-v3") == {
        "texts": ["a", "b"],
        "input_type": "search_query",
    }
    with pytest.raises(BadRequest, match="one text per request"):
        embeddings_request({"input": ["a", "b"]}, "amazon.titan-embed-text-v2:0")
    with pytest.raises(BadRequest, match="not a Bedrock embedding model"):
        embeddings_request({"input": "a"}, "anthropic.claude-v2")
    with pytest.raises(BadRequest, match="a string or a non-empty list"):
        embeddings_request({"input": [1, 2, 3]}, "cohere.embed-english-v3")


def test_embeddings_response_cohere_typed_and_base64():
    body = orjson.dumps({"embeddings": {"float": [[1.0, 2.0]]}, "response_type": "embeddings_by_type"})
    data = orjson.loads(embeddings_response(body, "cohere.embed-english-v3", "base64"))["data"]
    assert base64.b64decode(data[0]["embedding"]) == b"\x00\x00\x80?\x00\x00\x00@"


