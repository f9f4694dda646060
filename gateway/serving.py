"""The HTTP server around the application: header limits and parser errors as JSON.

aiohttp answers a request its parser rejects (a header over the limit, a bad request
line, ``Content-Length: -1``, broken chunked framing) itself, before any middleware
runs: a ``text/plain`` 400 whose body, like the ``aiohttp.server`` log line with its
traceback, quotes up to 100 bytes of the offending input, which may be an
``Authorization: Bearer sk-...`` header or an ``x-portkey-config`` holding a provider
key. :class:`GatewayRequestHandler` answers these with the gateway's JSON error
(431 for header fields too large or too many, 400 otherwise) made of fixed text, and
logs one line with the error code and the client address, never the input.

aiohttp builds the per-connection protocol in ``web.Server.__call__`` and the server
in ``AppRunner._make_server``; it has no public hook for the protocol class, so
:func:`make_runner` subclasses both at those two points (checked against aiohttp 3.14,
whose C parser and pure-Python parser raise the same exception classes), and reads
two attributes of ``RequestHandler`` and its ``_ErrInfo`` to end a request body whose
framing breaks after its headers were handed on (see ``data_received``).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import BadStatusLine, HttpProcessingError, InvalidURLError, LineTooLong
from aiohttp.web_protocol import _ErrInfo

from .errors import BrokenBody, GatewayError
from .settings import Settings

access_log = logging.getLogger("gateway.access")
log = logging.getLogger("gateway")

# Header fields a request may have. Clients send about 20; 128 (aiohttp's default)
# leaves room for proxies and tracing headers, and with the size limit bounds what one
# request's headers can hold (128 x 64 KiB = 8 MiB, below the body limit).
MAX_HEADERS = 128
# What a handler reading a body with broken framing gets (RequestPayloadError).
BROKEN_BODY = BrokenBody().message
# Exceptions aiohttp logs that the client caused (a broken body, a hang-up).
_CLIENT_FAULTS = (web.RequestPayloadError, HttpProcessingError, ConnectionError)
# aiohttp's parsers say this (and only this) when a request has more than max_headers.
_TOO_MANY_HEADERS = "Too many headers received"


def make_runner(app: web.Application, settings: Settings, **kwargs: Any) -> web.AppRunner:
    """An AppRunner whose connections use the gateway's limits and parser-error answers.

    ``kwargs`` go to the runner as for ``web.AppRunner`` (e.g. a test's own options).
    """
    options: dict[str, Any] = {
        "handler_cancellation": True,  # a client that hangs up cancels its upstream call
        "access_log": None,  # the access line is ours (gateway.access)
        "max_line_size": settings.max_header_size,  # the request line
        "max_field_size": settings.max_header_size,  # each header field, name and value
        "max_headers": MAX_HEADERS,
        "shutdown_timeout": settings.shutdown_timeout,
    }
    options.update(kwargs)
    return _GatewayAppRunner(app, **options)


class GatewayRequestHandler(web.RequestHandler):
    """aiohttp's protocol, with errors it answers itself rendered as gateway JSON."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,  # aiohttp's text, which quotes the input: unused
    ) -> web.StreamResponse:
        if request.writer.output_size > 0:
            # As aiohttp: part of an answer is out, so no error answer can follow.
            raise ConnectionError("response already started; cannot send an error response")
        if isinstance(exc, HttpProcessingError):  # what aiohttp's data_received catches
            error = parser_error(exc, self.max_field_size, self.max_headers)
            fields = {"status": error.status, "error": error.code, "client": request.remote}
            access_log.info("malformed request", extra={"fields": fields})
        elif status == 504:
            error = GatewayError("the request handler timed out", status=504, type="timeout_error", code="gateway_timeout")
            log.warning("request handler timed out", extra={"fields": {"client": request.remote}})
        else:
            # Only reached when something escaped the context middleware's own catch-all.
            error = GatewayError("internal gateway error")
            log.error("unhandled error outside the middlewares", exc_info=exc)
        response = error.response()
        response.force_close()  # the connection's framing can no longer be trusted
        return response

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._messages:  # a request waits to be handled: usually a new one, rarely an error
            self._fail_body_on_framing_error()

    def _fail_body_on_framing_error(self) -> None:
        """End the body of the request being handled when its framing turned out broken.

        When a chunk size or the like is invalid after the headers were handed on,
        llhttp's error only queues an answer behind the running request, whose body
        then never ends: the handler would wait (streaming a partial body upstream)
        until the client gave up. The pure-Python parser fails the body itself, with
        an exception quoting the input, which this replaces with fixed text.
        """
        queued = self._messages[-1][0]
        request = self._current_request
        if isinstance(queued, _ErrInfo) and request is not None and not request.content.is_eof():
            request.content.set_exception(web.RequestPayloadError(BROKEN_BODY))

    def log_exception(self, message: str, *args: Any, exc_info: Any = None, **kwargs: Any) -> None:
        """aiohttp's own error lines, without the exception's text and traceback.

        A body whose framing broke is drained by aiohttp after the answer and ends up
        here; the client was answered (and logged) already, so that is only debug.
        """
        if isinstance(exc_info, BaseException):
            level = logging.DEBUG if isinstance(exc_info, _CLIENT_FAULTS) else logging.ERROR
            log.log(level, message, *args, extra={"fields": {"error": type(exc_info).__name__}})
        else:
            log.error(message, *args)


def parser_error(exc: HttpProcessingError, max_field_size: int, max_headers: int) -> GatewayError:
    """The gateway's answer to a request aiohttp's parser rejected; fixed text only.

    Four codes, chosen so that the C parser (llhttp, used in production) and the
    pure-Python one (``AIOHTTP_NO_EXTENSIONS=1``) answer alike: they raise the same
    classes for the request line and the limits, but report framing and header errors
    (``Content-Length: -1``, Content-Length with Transfer-Encoding, a bad chunk size)
    as different subclasses of BadHttpMessage (or as BadHttpMessage itself).
    """
    if isinstance(exc, LineTooLong):
        # The limit applies to the request line too; RFC 9110 would answer a long URL
        # with 414, but the parsers do not say which line it was.
        return GatewayError(
            f"the request line or a header field is larger than the gateway's limit of {max_field_size} bytes",
            status=431,
            type="invalid_request_error",
            code="header_too_large",
        )
    if exc.message == _TOO_MANY_HEADERS:
        return GatewayError(
            f"the request has more than {max_headers} header fields",
            status=431,
            type="invalid_request_error",
            code="too_many_headers",
        )
    if isinstance(exc, (BadStatusLine, InvalidURLError)):  # BadHttpMethod is a BadStatusLine
        return GatewayError(
            "the request line is not METHOD SP path SP HTTP/1.1 (or TLS was sent to this plain-HTTP port)",
            status=400,
            type="invalid_request_error",
            code="invalid_request_line",
        )
    return GatewayError(
        "the request's header fields or body framing (Content-Length, Transfer-Encoding, chunks) are not valid HTTP/1.1",
        status=400,
        type="invalid_request_error",
        code="malformed_request",
    )


class _GatewayServer(web.Server):
    def __call__(self) -> GatewayRequestHandler:
        return GatewayRequestHandler(self, loop=self._loop, **self._kwargs)


class _GatewayAppRunner(web.AppRunner):
    async def _make_server(self) -> web.Server:
        server = await super()._make_server()  # runs the app's startup, then freezes it
        return _GatewayServer(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=asyncio.get_running_loop(),
            **server._kwargs,
        )
