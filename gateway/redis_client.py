"""The worker's Redis client: one connection, commands pipelined, shared by every user.

One client per app (:func:`redis_context`, ``app[REDIS]``) serves the limit counters,
the response cache and the semantic cache's vectors, so a worker holds one connection
to the ``--redis`` server, whoever calls. Each caller bounds its own commands
(``timeout=``: ``--limits-timeout``, ``--cache-timeout``) and keeps its own failure
policy.

Every command issued during one turn of the event loop goes out in one ``write``, and
replies are handed back in order (Redis answers a connection's commands in the order
it received them), so N concurrent requests cost one send and one receive instead of
N of each, and no pool checkout. Replies are parsed by hiredis (C). Every command is
bounded by its caller's ``timeout``: one timer per write and per distinct timeout fails
the commands of that write still unanswered when it fires (instead of arming a timer
per command).

Why not redis-py: measured on the limit counters' calls (``scripts/bench_limits.py``,
admit + charge per request on loopback), redis-py cost ~190 µs CPU per request (~175
with hiredis): a pool checkout, command packing through its encoder, a stream write
(one ``send`` system call) and an ``asyncio.timeout`` per command. This client does
what its callers need and nothing else (any command; :class:`Script` for
``EVALSHA`` with a reload on ``NOSCRIPT``): ``redis://``, ``rediss://`` and ``unix://``
URLs with a user, password and database; no retries (a check-and-charge whose reply was
lost may have charged), no cluster.

A lost connection fails the commands waiting on it; the next command reconnects.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Sequence
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

import hiredis
from aiohttp import web

# Commands waiting for a reply, beyond which a hung server is not queued more work.
MAX_WAITING = 10_000


class RedisUnavailable(Exception):
    """Could not connect, the connection was lost, or the server answered an error."""


class ReplyError(RedisUnavailable):
    """The server answered ``-ERR ...``."""


@dataclass(frozen=True)
class Address:
    host: str | None = None
    port: int = 6379
    path: str | None = None  # a unix socket
    tls: bool = False
    verify_tls: bool = True
    username: str | None = None
    password: str | None = None
    db: int = 0


def parse_redis_url(url: str) -> Address:
    """``redis://[[user]:password@]host[:port][/db]``, ``rediss://...`` (TLS; add
    ``?ssl_cert_reqs=none`` to skip verification), ``unix:///path[?db=N]``."""
    parts = urlsplit(url)
    query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
    username = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    db = int(query.get("db", 0))
    if parts.scheme == "unix":
        return Address(path=unquote(parts.path), username=username, password=password, db=db)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
    path_db = parts.path.strip("/")
    if path_db:
        db = int(path_db)
    return Address(
        host=parts.hostname or "localhost", port=parts.port or 6379, tls=parts.scheme == "rediss",
        verify_tls=query.get("ssl_cert_reqs", "required").lower() not in ("none", "cert_none"),
        username=username, password=password, db=db,
    )


def encode(args: tuple) -> bytes:
    """A command in RESP: an array of bulk strings."""
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        if isinstance(arg, str):
            arg = arg.encode()
        elif isinstance(arg, int):
            arg = b"%d" % arg
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


class _Connection(asyncio.Protocol):
    def __init__(self, loop: asyncio.AbstractEventLoop, timeout: float) -> None:
        self._loop = loop
        self._timeout = timeout
        self._reader = hiredis.Reader()
        self._waiting: deque[asyncio.Future] = deque()
        self._out: list[bytes] = []
        self._sent: list[asyncio.Future] = []  # the futures of the commands in _out
        # Those bounded by another timeout than the client's, by timeout.
        self._sent_within: dict[float, list[asyncio.Future]] = {}
        self._transport: asyncio.Transport | None = None
        self.lost = False

    def connection_made(self, transport) -> None:
        self._transport = transport

    def send(self, command: bytes, timeout: float | None = None) -> asyncio.Future:
        if self.lost:
            raise RedisUnavailable("connection lost")
        if len(self._waiting) >= MAX_WAITING:
            raise RedisUnavailable(f"{MAX_WAITING} commands already waiting for the server")
        future = self._loop.create_future()
        self._waiting.append(future)
        if not self._out:  # the first command of this turn: write them all at its end
            self._loop.call_soon(self._flush)
        self._out.append(command)
        if timeout is None or timeout == self._timeout:
            self._sent.append(future)
        else:
            self._sent_within.setdefault(timeout, []).append(future)
        return future

    def _flush(self) -> None:
        out, self._out = self._out, []
        sent, self._sent = self._sent, []
        within, self._sent_within = self._sent_within, {}
        if not self.lost:
            self._transport.write(b"".join(out) if len(out) > 1 else out[0])
            if sent:
                self._loop.call_later(self._timeout, _give_up, sent, self._timeout)
            for timeout, futures in within.items():
                self._loop.call_later(timeout, _give_up, futures, timeout)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        while (reply := self._reader.gets()) is not False:
            future = self._waiting.popleft()
            if future.done():  # its caller gave up (timed out): the reply is dropped
                continue
            if isinstance(reply, hiredis.ReplyError):
                future.set_exception(ReplyError(str(reply)))
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        error = RedisUnavailable(f"connection lost: {exc or 'closed by the server'}")
        while self._waiting:
            future = self._waiting.popleft()
            if not future.done():
                future.set_exception(error)
                future.exception()  # a caller that gave up never retrieves it: no warning

    def close(self) -> None:
        self.lost = True
        if self._transport is not None:
            self._transport.close()


def _give_up(sent: list[asyncio.Future], timeout: float) -> None:
    for future in sent:
        if not future.done():
            future.set_exception(TimeoutError(f"no answer from Redis within {timeout:g} s"))
            future.exception()  # a caller that gave up never retrieves it: no warning


class RedisClient:
    """``await client.call("GET", key, timeout=0.25)`` → the decoded reply (ints, bytes,
    lists); raises :class:`RedisUnavailable` (or :class:`ReplyError`), or
    ``TimeoutError`` past ``timeout`` (the client's own when None)."""

    def __init__(self, url: str, *, timeout: float = 1.0) -> None:
        self.address = parse_redis_url(url)
        self.timeout = timeout  # for connecting, and for each command that names none
        self._connection: _Connection | None = None
        self._connecting: asyncio.Future | None = None

    async def call(self, *args, timeout: float | None = None) -> object:
        return await self.call_encoded(encode(args), timeout)

    def call_encoded(self, command: bytes, timeout: float | None = None) -> Awaitable[object]:
        """:meth:`call` with the command already in RESP (:func:`encode`). Connected,
        it answers the reply's future itself (no coroutine frame per command); a
        command refused at once (connection lost, too many waiting) raises here."""
        connection = self._connection
        if connection is None or connection.lost:
            return self._send_connected(command, timeout)
        return connection.send(command, timeout)

    async def _send_connected(self, command: bytes, timeout: float | None) -> object:
        connection = await self._connected(timeout)
        return await connection.send(command, timeout)

    async def _connected(self, timeout: float | None = None) -> _Connection:
        """One connection attempt at a time; concurrent callers share it, each waiting
        at most its own timeout."""
        if self._connecting is None:
            self._connecting = asyncio.ensure_future(self._connect())
            self._connecting.add_done_callback(self._connect_done)
        if timeout is None or timeout >= self.timeout:
            return await asyncio.shield(self._connecting)
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self._connecting)

    def _connect_done(self, attempt: asyncio.Future) -> None:
        self._connecting = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._connection = attempt.result()

    async def _connect(self) -> _Connection:
        loop = asyncio.get_running_loop()
        address = self.address
        try:
            async with asyncio.timeout(self.timeout):
                if address.path is not None:
                    _, connection = await loop.create_unix_connection(lambda: _Connection(loop, self.timeout), address.path)
                else:
                    _, connection = await loop.create_connection(
                        lambda: _Connection(loop, self.timeout), address.host, address.port, ssl=self._tls_context()
                    )
                try:
                    if address.password is not None:
                        credentials = (address.username, address.password) if address.username else (address.password,)
                        await connection.send(encode(("AUTH", *credentials)))
                    if address.db:
                        await connection.send(encode(("SELECT", address.db)))
                except BaseException:
                    connection.close()
                    raise
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise RedisUnavailable(f"cannot connect: {exc or type(exc).__name__}") from exc
        return connection

    def _tls_context(self) -> ssl.SSLContext | None:
        if not self.address.tls:
            return None
        context = ssl.create_default_context()
        if not self.address.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class Script:
    """A Lua script called by its SHA-1 (``EVALSHA``), loaded again when the server
    answers ``NOSCRIPT`` (after a restart or a ``SCRIPT FLUSH``)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.sha = hashlib.sha1(text.encode()).hexdigest()

    async def run(self, client: RedisClient, keys: Sequence[str], args: Sequence, *, timeout: float | None = None):
        try:
            return await client.call("EVALSHA", self.sha, len(keys), *keys, *args, timeout=timeout)
        except ReplyError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
        await client.call("SCRIPT", "LOAD", self.text, timeout=timeout)
        return await client.call("EVALSHA", self.sha, len(keys), *keys, *args, timeout=timeout)


REDIS = web.AppKey("redis", RedisClient)


def redis_context(url: str | None, *, timeout: float):
    """cleanup_ctx (before its users': it closes after them): the worker's one client
    of ``--redis``, connected at its first command; none without a URL."""

    async def context(app: web.Application) -> AsyncIterator[None]:
        if not url:
            yield
            return
        client = app[REDIS] = RedisClient(url, timeout=timeout)
        try:
            yield
        finally:
            await client.close()

    return context
