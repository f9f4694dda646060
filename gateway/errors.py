"""Errors the gateway raises itself, rendered as OpenAI error objects.

The body carries the OpenAI shape (so SDKs show a clean message) plus Portkey's
top-level ``status``/``message`` (so Portkey clients keep working)::

    {"error": {"message": "...", "type": "...", "param": null, "code": "..."},
     "status": "failure", "message": "..."}
"""

from __future__ import annotations

import orjson
from aiohttp import web


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

    def sse_event(self) -> bytes:
        """The error as one server-sent event, for failures after a stream started.

        Named ``error`` as well as carrying ``{"error": ...}``: OpenAI clients raise on
        the data, and Anthropic clients (a relayed ``/v1/messages`` stream) raise only
        on an event named ``error`` and skip unnamed ones, which would make a broken
        stream look finished.
        """
        return b"event: error\ndata: " + orjson.dumps({"error": self.error_object()}) + b"\n\n"

    def response(self) -> web.Response:
        return web.Response(
            status=self.status,
            body=self.body(),
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


class GatewayShutdown(GatewayError):
    """The worker's shutdown deadline ended this request (``--shutdown-timeout``)."""

    status = 503
    type = "api_error"
    code = "gateway_shutdown"

    def __init__(self, message: str = "the gateway is shutting down; retry the request", **kwargs) -> None:
        super().__init__(message, **kwargs)
