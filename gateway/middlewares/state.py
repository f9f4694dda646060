"""Per-request state shared by the middlewares and the handler."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..admin.paths import is_admin_path
from ..config import RouteSpec


@dataclass
class RequestState:
    trace_id: str
    started: float
    # Token from Authorization (or x-api-key) — a secret: never logged.
    header_api_key: str | None = field(default=None, repr=False)
    route: RouteSpec | None = None
    # Filled in as the call proceeds, for the response headers and the access line.
    provider: str | None = None
    option_path: str | None = None
    retry_attempts: int = 0
    attempts: list[dict[str, Any]] = field(default_factory=list)
    # Set when an answer failed after its first byte (it ended with an error event).
    stream_error: Any = None
    # Set when the client hung up while its answer was being written.
    client_gone: bool = False
    # Body bytes written to the client by a streamed answer.
    body_bytes_out: int = 0


STATE_KEY = web.RequestKey("gateway_state", RequestState)


def state_of(request: web.Request) -> RequestState:
    return request[STATE_KEY]


def is_api_request(request: web.Request) -> bool:
    # The admin API (gateway/admin/) checks its own key and carries no routing.
    return request.path.startswith("/v1/") and not is_admin_path(request.path)
