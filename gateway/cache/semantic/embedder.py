"""Embeddings for the semantic cache, from the operator's target, through the gateway's
own provider machinery (the provider's request, its credentials or signature, its
translator) and the process's pooled session.

A failure of any kind (a timeout, a non-2xx answer, a body that is not an embeddings
list, a credential that cannot be found) gives None: the caller treats it as a miss,
and the client never sees it. It is logged at most once a minute per worker, naming
the provider and the reason (a status, an error's name), never a key, a URL's query
or the text.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
from collections.abc import Callable

import aiohttp
import numpy as np
import orjson
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

from ...config import Target
from ...config.stored import StoredLookup
from ...errors import GatewayError, UpstreamTimeout
from ...limits.counters import ThrottledLog
from ...providers.base import Call
from ...providers.registry import get_provider
from ...upstream import Transport
from .embeddings_target import EmbeddingsTarget
from .vectors import DTYPE, unit_vector

log = logging.getLogger("gateway.cache.semantic")

ENDPOINT = "embeddings"
# An embeddings answer for one text is a few tens of kB; more is not one.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
LOG_EVERY = 60.0
_HEADERS = CIMultiDictProxy(CIMultiDict({"Content-Type": "application/json", "Accept": "application/json"}))


class EmbeddingFailed(Exception):
    """Why no vector came back: a short reason, safe to log."""


class Embedder:
    """Text → unit vector, or None (a miss) within ``timeout`` seconds."""

    def __init__(
        self,
        spec: EmbeddingsTarget,
        app: web.Application,
        transport: Callable[[], Transport],
        stored: Callable[[], StoredLookup | None],
        *,
        timeout: float,
    ) -> None:
        self.spec = spec
        self._app = app
        self._transport = transport
        self._stored = stored
        self.timeout = timeout
        self._throttle = ThrottledLog(LOG_EVERY)
        self.failures = 0  # since start: what a test or the metrics read
        self._target: tuple[int, Target] | None = None  # built once (per store version for a virtual key)

    async def embed(self, text: str) -> np.ndarray | None:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._embed(text)
        except TimeoutError:
            self._failed(f"no answer within {self.timeout:g}s")
        except EmbeddingFailed as exc:
            self._failed(str(exc))
        except GatewayError as exc:
            self._failed(f"{type(exc).__name__} ({exc.status})")
        except (aiohttp.ClientError, OSError) as exc:
            self._failed(f"connection failed mid-answer: {type(exc).__name__}")
        return None

    async def _embed(self, text: str) -> np.ndarray:
        spec = self.spec
        target = self._current_target()
        provider = get_provider(target.provider)
        body = {**spec.body(text), **target.override_params}
        payload = orjson.dumps(body)
        call = Call("POST", ENDPOINT, "", _HEADERS, body=payload, json=body)
        request = provider.prepare(call, target)
        await provider.authorize(request, target, self._app)
        timeout_error = functools.partial(UpstreamTimeout, "embeddings call timed out")
        async with await self._transport().open(request, timeout_s=self.timeout, timeout_error=timeout_error) as answer:
            raw = await _read_all(answer)
            status = answer.status
        if not 200 <= status < 300:
            raise EmbeddingFailed(f"status {status}")
        translator = provider.translator(call)
        if translator is not None:
            try:
                raw = translator.body(raw)
            except (ValueError, KeyError, IndexError, TypeError):
                raise EmbeddingFailed("answer could not be translated") from None
        return _first_vector(raw)

    def _current_target(self) -> Target:
        stored = self._stored() if "virtual_key" in self.spec.config else None
        version = getattr(stored, "version", -1)  # a changed store: a rotated or deleted credential
        if self._target is None or self._target[0] != version:
            self._target = (version, self.spec.target(stored))
        return self._target[1]

    def _failed(self, reason: str) -> None:
        self.failures += 1
        skipped = self._throttle.due()
        if skipped is None:
            return
        log.warning(
            "semantic cache: no embedding, answered as a miss",
            extra={"fields": {"provider": self.spec.config.get("provider") or "virtual key",
                              "model": self.spec.model, "reason": reason, "failures_not_logged": skipped}},
        )


async def _read_all(answer) -> bytes:
    parts, size = [], 0
    async for chunk in answer:
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise EmbeddingFailed(f"answer larger than {MAX_ANSWER_BYTES} bytes")
        parts.append(chunk)
    return b"".join(parts)


def _first_vector(raw: bytes) -> np.ndarray:
    """The first embedding of an OpenAI embeddings list (floats, or base64 floats)."""
    try:
        data = orjson.loads(raw)["data"]
        embedding = data[0]["embedding"]
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
        raise EmbeddingFailed("answer is not an embeddings list") from None
    if isinstance(embedding, str):
        try:
            embedding = np.frombuffer(base64.b64decode(embedding, validate=True), dtype=DTYPE)
        except ValueError:
            raise EmbeddingFailed("answer's base64 embedding is not float32s") from None
    vector = unit_vector(embedding)
    if vector is None:
        raise EmbeddingFailed("answer's embedding is not a usable vector")
    return vector
