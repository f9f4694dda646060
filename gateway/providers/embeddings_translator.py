"""One translator for embeddings answers of providers that answer in their own shape.

A provider supplies two pure functions: its error body → OpenAI's error, and its
embeddings body → OpenAI's embedding list. Embeddings are never streamed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest


@dataclass(frozen=True)
class EmbeddingsTranslator:
    to_openai: Callable[[bytes, str, Any], bytes]  # (body, model, encoding_format)
    error_to_openai: Callable[[int, bytes], bytes]  # (status, body)
    model: str
    encoding_format: Any

    def error(self, status: int, headers: Mapping[str, str], body: bytes) -> bytes:
        return self.error_to_openai(status, body)

    def body(self, body: bytes) -> bytes:
        return self.to_openai(body, self.model, self.encoding_format)

    def stream_translator(self):
        raise BadRequest("embeddings are not streamed", code="invalid_value", param="stream")
