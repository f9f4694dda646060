"""A fake OpenAI embeddings API (``POST /v1/embeddings``) whose vectors a test steers.

The wire format is OpenAI's: ``{"model", "input": str | [str], "encoding_format":
"float" | "base64", "dimensions"}`` in; ``{"object": "list", "data": [{"object":
"embedding", "index", "embedding"}], "model", "usage": {"prompt_tokens",
"total_tokens"}}`` out; errors as ``{"error": {"message", "type", "param", "code"}}``;
a key (``Authorization: Bearer sk-test...``) is required.

Vectors are deterministic: a text's vector is drawn from a generator seeded by the
text's SHA-256 (``DIMENSIONS`` long, so two different texts are nearly orthogonal:
cosine similarity around 0 ± 0.13), unless a test placed one with ``like(text,
other, similarity)``: a vector whose cosine similarity with ``other``'s is exactly
``similarity``.

Knobs: ``status`` (answer that error instead), ``hang`` (an Event the handler waits
on before answering), ``garbage`` (a 200 that is not an embeddings list);
``requests`` records each request's JSON body and headers.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import math
import random
import struct
from dataclasses import dataclass, field

import orjson
from aiohttp import web

API_KEY_PREFIX = "sk-test"
DIMENSIONS = 64


@dataclass
class FakeEmbeddings:
    vectors: dict[str, list[float]] = field(default_factory=dict)
    requests: list[tuple[dict, dict]] = field(default_factory=list)
    status: int | None = None
    hang: asyncio.Event | None = None
    garbage: bool = False
    url: str = ""  # base URL including /v1, set by the fixture

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/embeddings", self.embeddings)
        return app

    @property
    def texts(self) -> list[str]:
        """Every text embedded so far, in order."""
        texts = []
        for body, _ in self.requests:
            inputs = body.get("input")
            texts += inputs if isinstance(inputs, list) else [inputs]
        return texts

    def vector(self, text: str) -> list[float]:
        if text in self.vectors:
            return self.vectors[text]
        generator = random.Random(hashlib.sha256(text.encode()).digest())
        return _unit([generator.gauss(0.0, 1.0) for _ in range(DIMENSIONS)])

    def like(self, text: str, other: str, similarity: float) -> None:
        """Make ``text``'s vector one at exactly ``similarity`` (cosine) from ``other``'s."""
        base = self.vector(other)
        noise = self.vector(f"\0noise:{text}")
        along = sum(a * b for a, b in zip(noise, base, strict=True))
        orthogonal = _unit([n - along * b for n, b in zip(noise, base, strict=True)])
        across = math.sqrt(max(0.0, 1.0 - similarity * similarity))
        self.vectors[text] = [similarity * b + across * o for b, o in zip(base, orthogonal, strict=True)]

    async def embeddings(self, request: web.Request) -> web.Response:
        body = orjson.loads(await request.read())
        self.requests.append((body, dict(request.headers)))
        if self.hang is not None:
            await self.hang.wait()
        if not request.headers.get("Authorization", "").removeprefix("Bearer ").startswith(API_KEY_PREFIX):
            return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
        if self.status is not None:
            return _error(self.status, "The server had an error while processing your request.", "server_error", None)
        if self.garbage:
            return web.json_response({"object": "list", "data": "not a list"})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = []
        for index, text in enumerate(inputs):
            vector = self.vector(text)
            if body.get("dimensions"):  # OpenAI shortens, then normalises again
                vector = _unit(vector[: body["dimensions"]])
            if body.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                embedding = vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        tokens = sum(len(text.split()) for text in inputs)
        return web.json_response(
            {"object": "list", "data": data, "model": body["model"], "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        )


def _unit(values: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in values))
    return [v / norm for v in values]


def _error(status: int, message: str, type_: str, code: str | None) -> web.Response:
    return web.json_response({"error": {"message": message, "type": type_, "param": None, "code": code}}, status=status)
