"""Per-request state shared by the middlewares and the handler."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from ..admin.paths import is_admin_path
from ..config import RouteSpec
from ..usage import Usage


class RequestState:
    """One request's state: what the context middleware reports in the access line,
    the metrics and the trace. Every field but the first two starts at its class-level
    default, so a request pays for the fields it sets (a dataclass sets all 26)."""

    # Token from Authorization (or x-api-key) — a secret: never logged.
    header_api_key: str | None = None
    route: RouteSpec | None = None
    # Whether the request is for the API (/v1/..., not the admin API, not a 405):
    # auth and config pass the others on untouched.
    api: bool = False
    # Filled in as the call proceeds, for the response headers and the access line.
    provider: str | None = None
    option_path: str | None = None
    # The attempts' access-line entries (a list once routing made any).
    attempts: Sequence[dict[str, Any]] = ()
    # Set when an answer failed after its first byte (it ended with an error event).
    stream_error: Any = None
    # Set when the client hung up while its answer was being written.
    client_gone: bool = False
    # Body bytes written to the client by a streamed answer.
    body_bytes_out: int = 0
    # The model sent upstream (the body was read), else the one the answer names.
    model: str | None = None
    # Token usage, when the answer carried it.
    usage: Usage | None = None
    # perf_counter() when the first body byte of a streamed answer was written.
    first_byte_at: float | None = None
    # The upstream's own id for the answered request (x-request-id, request-id, ...).
    upstream_request_id: str | None = None
    # Why the answer ended early, when something other than the upstream or the
    # client cut it short (e.g. "shutdown"); the access line works out the others.
    ended: str | None = None
    # Observability: seconds spent awaiting an upstream or a retry's backoff; the
    # gateway's own seconds until the answer's headers (observability.overhead); the
    # answer streams; chunks written; the code of the gateway's own error answer; the
    # request's trace span and the answering attempt's span (None without tracing).
    waited: float = 0.0
    overhead: float | None = None
    streaming: bool = False
    chunks_out: int = 0
    error_code: str | None = None
    span: Any = None
    answer_span: Any = None
    finish_reasons: Sequence[str] = ()  # read only when tracing
    # The response cache's status (HIT, MISS, ...), None when no cache config applied.
    cache_status: str | None = None

    def __init__(self, trace_id: str, started: float, **fields: Any) -> None:
        self.trace_id = trace_id
        self.started = started
        for name, value in fields.items():
            if not hasattr(RequestState, name):
                raise TypeError(f"RequestState has no field {name!r}")
            setattr(self, name, value)

    def __repr__(self) -> str:
        shown = {name: value for name, value in vars(self).items() if name != "header_api_key"}
        return f"RequestState({shown})"


STATE_KEY = web.RequestKey("gateway_state", RequestState)


def state_of(request: web.Request) -> RequestState:
    return request[STATE_KEY]


def is_api_request(request: web.Request) -> bool:
    # A method not allowed (405) is answered before auth and config look at it; the
    # admin API (gateway/admin/) checks its own key and carries no routing.
    path = request.path
    return path.startswith("/v1/") and request.match_info.http_exception is None and not is_admin_path(path)
