"""The one place that talks to upstreams: the shared ClientSession and sending.

``open_upstream`` sends a request and waits for the status line and the first body
chunk under one deadline, so that everything up to the first byte the client would
see can still fail cleanly (and, for routing, be retried elsewhere). Low-level
aiohttp errors become GatewayErrors here, at the boundary.
"""

from __future__ import annotations

import asyncio
import functools
import socket
from collections.abc import AsyncIterator, Callable
from typing import Protocol

import aiohttp
from aiohttp import web

from .answer import UpstreamAnswer
from .deadline import Deadline
from .errors import BodyTooLarge, BrokenBody, GatewayError, UpstreamTimeout, UpstreamUnreachable
from .providers.base import UpstreamRequest
from .settings import Settings

# The pooled client session every upstream call goes through (``session_context``).
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)


def session_context(settings: Settings):
    """cleanup_ctx: one pooled ClientSession per process, closed on shutdown."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(
            limit=settings.max_connections,
            limit_per_host=0,
            ttl_dns_cache=300,
            keepalive_timeout=60,
            family=socket.AF_UNSPEC,
        )
        session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=settings.connect_timeout),
            # Header values are relayed as the client sent them, and URLs as providers built them.
            skip_auto_headers=("User-Agent",),
            auto_decompress=True,
            cookie_jar=aiohttp.DummyCookieJar(),
            read_bufsize=2**16,
        )
        app[HTTP_SESSION] = session
        app[TRANSPORT] = SessionTransport(session)
        yield
        await session.close()

    return context


class ClientAnswer(UpstreamAnswer):
    """An answer arriving over an aiohttp connection.

    ``read`` is the body stream's own ``readany`` (no wrapper on the relay's path).
    ``ended`` (the stream's ``at_eof()``) says whether the body was read to its end.
    aiohttp gives a connection back to the pool by itself once its body has been
    read to the end, so ``close()`` never needs to choose: it cuts a connection
    with bytes left, and is a no-op for the connection of an answer read whole.
    """

    __slots__ = ("_content", "_response", "read")

    def __init__(self, response: aiohttp.ClientResponse, first_chunk: bytes) -> None:
        self.status = response.status
        self.headers = response.headers
        self.first_chunk = first_chunk
        self._response = response
        self._content = response.content
        self.read = response.content.readany

    @property
    def ended(self) -> bool:
        return self._content.at_eof()

    @property
    def content_type(self) -> str:
        return self._response.content_type

    def abort(self, error: BaseException) -> None:
        self._content.set_exception(error)

    def close(self) -> None:
        self._response.close()


# What a timeout answers, built only when it runs out (most calls never need it).
TimeoutError_ = Callable[[], GatewayError]


class Transport(Protocol):
    """Sends an upstream request; what routing calls (a test gives its own)."""

    async def open(self, request: UpstreamRequest, *, timeout_s: float, timeout_error: TimeoutError_) -> UpstreamAnswer:
        """The answer once its status and first chunk are in (see ``open_upstream``)."""


class SessionTransport:
    """The real transport: the process's pooled ClientSession.

    ``open`` is ``open_upstream`` with the session bound (a partial, not a method
    that awaits it): one coroutine frame fewer for every resumption of the call."""

    __slots__ = ("open", "session")

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.open = functools.partial(open_upstream, session, loop=asyncio.get_running_loop())


# How routing reaches upstreams: set beside the session by ``session_context``.
TRANSPORT = web.AppKey("upstream_transport", Transport)


class BodyCounter:
    """Relays a client body stream upstream and stops it past the size limit."""

    def __init__(self, stream: aiohttp.StreamReader, limit: int) -> None:
        self._stream = stream
        self._limit = limit
        self.exceeded = False
        self.broken = False  # the client's chunked framing broke mid-body

    async def __aiter__(self):
        total = 0
        try:
            async for chunk in self._stream.iter_any():
                total += len(chunk)
                if total > self._limit:
                    self.exceeded = True
                    raise BodyTooLarge(f"request body is larger than {self._limit} bytes")
                yield chunk
        except web.RequestPayloadError:
            self.broken = True
            raise


async def open_upstream(
    session: aiohttp.ClientSession,
    request: UpstreamRequest,
    *,
    timeout_s: float,
    timeout_error: TimeoutError_,
    loop: asyncio.AbstractEventLoop | None = None,
) -> ClientAnswer:
    """Send ``request``; return once the status and the first body chunk are in.

    ``timeout_error()`` is raised when ``timeout_s`` runs out first. Connection failures
    are 502s that name the host, never the URL's query or any header. ``loop``: the
    running loop, when the caller knows it (SessionTransport).
    """
    body = request.body
    response = None
    try:
        async with Deadline(loop or asyncio.get_running_loop(), timeout_s):
            response = await session.request(
                request.method, request.url, headers=request.headers, data=body, allow_redirects=False
            )
            first = await response.content.readany()
    except TimeoutError:
        _close(response)
        raise timeout_error() from None
    except aiohttp.ClientConnectorError as exc:
        raise UpstreamUnreachable(
            f"could not connect to upstream {request.url.host}:{request.url.port}: {exc.strerror or 'refused'}"
        ) from None
    except (aiohttp.ClientError, OSError) as exc:
        _close(response)
        if isinstance(body, BodyCounter) and body.exceeded:
            raise BodyTooLarge(f"request body is larger than {body._limit} bytes") from None
        if isinstance(body, BodyCounter) and body.broken:
            raise BrokenBody() from None
        raise UpstreamUnreachable(
            f"upstream {request.url.host} failed before answering: {type(exc).__name__}"
        ) from None
    except BaseException:
        _close(response)
        raise
    return ClientAnswer(response, first)


def _close(response: aiohttp.ClientResponse | None) -> None:
    if response is not None:
        response.close()


def request_deadline(timeout_ms: int | None, settings: Settings) -> tuple[float, TimeoutError_]:
    """The deadline until first byte, and what builds the error its expiry answers.

    A request's own ``request_timeout`` answers 408 (as Portkey does); the operator's
    default answers 504, so that a client can tell whose limit ran out.
    """
    if timeout_ms is not None:
        return timeout_ms / 1000, functools.partial(_request_timeout, timeout_ms)
    return settings.request_timeout, functools.partial(_gateway_timeout, settings.request_timeout)


def _request_timeout(timeout_ms: int) -> GatewayError:
    return UpstreamTimeout(f"request timed out after {timeout_ms} ms (request_timeout)")


def _gateway_timeout(timeout_s: float) -> GatewayError:
    return UpstreamTimeout(
        f"upstream did not answer within the gateway's {timeout_s:g} s limit", status=504, code="gateway_timeout"
    )
