"""The process's Vertex token cache, opened once in ``app.cleanup_ctx``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from .tokens import VertexTokens

# OAuth tokens per Google identity, refreshed in the background (tokens.py).
VERTEX_TOKENS = web.AppKey("vertex_tokens", VertexTokens)


async def vertex_tokens_context(app: web.Application) -> AsyncIterator[None]:
    tokens = VertexTokens()
    app[VERTEX_TOKENS] = tokens
    yield
    tokens.close()  # stops the refresh timers and any fetch in flight
