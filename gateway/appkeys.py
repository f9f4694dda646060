"""Typed keys for what the application holds: settings and shared clients."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
