"""Errors the gateway raises itself, rendered as OpenAI error objects.

The body carries the OpenAI shape (so SDKs show a clean message) plus Portkey's
top-level ``status``/``message`` (so Portkey clients keep working)::

    {"error": {"message": "...", "type": "...", "param": null, "code": "..."},
     "status": "failure", "message": "..."}

A client of Anthropic's protocol (``/v1/messages``) gets the same error the way
Anthropic's API tells it, so its SDK raises the right exception::

    {"type": "error", "error": {"type": "rate_limit_error", "message": "..."}}

The hierarchy is shallow: the class fixes status, type and code; where the error is
rendered (the context middleware, or the relay for a stream already started) picks
the shape with ``anthropic=``.
"""

from __future__ import annotations

import orjson
from aiohttp import web

# HTTP status → the Anthropic error type that Anthropic's API answers it with.
ANTHROPIC_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "overloaded_error",
    504: "timeout_error",
    529: "overloaded_error",
}


def speaks_anthropic(path: str) -> bool:
    """Whether the client at ``path`` speaks Anthropic's Messages protocol."""
    return path.startswith("/v1/messages")


class GatewayError(Exception):
    """An error answered by the gateway: HTTP status, OpenAI type and code, message."""

    status = 500
    type = "api_error"
    code = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        code: str | None = None,
        param: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status
        if type is not None:
            self.type = type
        if code is not None:
            self.code = code
        self.param = param
        self.headers = headers or {}

    def error_object(self) -> dict:
        return {"message": self.message, "type": self.type, "param": self.param, "code": self.code}

    def body(self) -> bytes:
        return orjson.dumps(
            {"error": self.error_object(), "status": "failure", "message": self.message}
        )

    def anthropic_object(self) -> dict:
        kind = ANTHROPIC_TYPES.get(self.status, "api_error")
        return {"type": "error", "error": {"type": kind, "message": self.message}}

    def sse_event(self) -> bytes:
        """The error as one server-sent event, for failures after a stream started.

        Named ``error`` as well as carrying ``{"error": ...}``: OpenAI clients raise on
        the data, and Anthropic clients (a relayed ``/v1/messages`` stream) raise only
        on an event named ``error`` and skip unnamed ones, which would make a broken
        stream look finished.
        """
        return b"event: error\ndata: " + orjson.dumps({"error": self.error_object()}) + b"\n\n"

    def event_for(self, *, anthropic: bool) -> bytes:
        """``sse_event()``, or Anthropic's ``error`` event for a Messages client."""
        if anthropic:
            return b"event: error\ndata: " + orjson.dumps(self.anthropic_object()) + b"\n\n"
        return self.sse_event()

    def response(self, *, anthropic: bool = False) -> web.Response:
        return web.Response(
            status=self.status,
            body=orjson.dumps(self.anthropic_object()) if anthropic else self.body(),
            content_type="application/json",
            headers=self.headers,
        )


class BadRequest(GatewayError):
    status = 400
    type = "invalid_request_error"
    code = "bad_request"


class InvalidConfig(BadRequest):
    code = "invalid_config"


class BrokenBody(BadRequest):
    """The request body's chunked framing broke after its headers had been accepted."""

    code = "malformed_request"

    def __init__(self) -> None:
        super().__init__("the request body's framing (chunk sizes, Transfer-Encoding) is invalid")


class Unauthorized(GatewayError):
    status = 401
    type = "authentication_error"
    code = "invalid_api_key"


class NotFound(GatewayError):
    status = 404
    type = "invalid_request_error"
    code = "not_found"


class BodyTooLarge(GatewayError):
    status = 413
    type = "invalid_request_error"
    code = "request_too_large"


class MethodNotAllowed(GatewayError):
    status = 405
    type = "invalid_request_error"
    code = "method_not_allowed"


class ClientClosed(GatewayError):
    """The client hung up before its request was read: nobody to answer (nginx's 499)."""

    status = 499
    type = "invalid_request_error"
    code = "client_closed"


class UpstreamUnreachable(GatewayError):
    status = 502
    type = "api_error"
    code = "upstream_unreachable"


class UpstreamTimeout(GatewayError):
    """The per-request timeout (``request_timeout``) ran out: 408, as Portkey answers."""

    status = 408
    type = "timeout_error"
    code = "request_timeout"


class UpstreamBroken(GatewayError):
    """The upstream failed after it had started answering."""

    status = 502
    type = "api_error"
    code = "upstream_error"


class UpstreamTooLarge(GatewayError):
    """An upstream answer the gateway must read whole (to translate it) is too large."""

    status = 502
    type = "api_error"
    code = "upstream_too_large"


class IdleTimeout(UpstreamTimeout):
    """A started upstream answer went silent for longer than its idle limit."""

    status = 504
    code = "stream_idle_timeout"

    def __init__(self, seconds: float, *, before_first_event: bool = False) -> None:
        where = "before its first event" if before_first_event else "in the middle of its answer"
        super().__init__(f"upstream sent nothing for {seconds:g} s {where}")


class GatewayShutdown(GatewayError):
    """The worker's shutdown deadline ended this request (``--shutdown-timeout``)."""

    status = 503
    type = "api_error"
    code = "gateway_shutdown"

    def __init__(self, message: str = "the gateway is shutting down; retry the request", **kwargs) -> None:
        super().__init__(message, **kwargs)
