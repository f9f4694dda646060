"""Serving a fake upstream in a test: on 127.0.0.1, a free port, its ``url`` set."""

from __future__ import annotations


async def served(aiohttp_server, fake, path: str = "/v1"):
    """``fake`` (anything with ``app()`` and ``url``) served by pytest-aiohttp's
    ``aiohttp_server``; ``fake.url`` is its base URL at ``path`` ("" for a provider
    whose client appends the whole path itself)."""
    server = await aiohttp_server(fake.app())
    fake.url = str(server.make_url(path)).rstrip("/")
    return fake
