"""An upstream answer, whatever produced it: status, headers, body chunks, one owner.

Routing judges an answer by its status and first chunk; the relay writes its chunks
to the client. Neither knows whether the answer came over a connection
(:class:`gateway.upstream.ClientAnswer`) or from memory (:class:`BytesAnswer`: a
cached answer, a test double). Whoever holds an answer ends it with ``close()`` —
``async with answer:`` — and the answer alone decides what that means: a connection
read to its end goes back to the pool, any other is cut, so that a discarded retry or
a client that hung up never leaves bytes in a pooled connection.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Iterable, Mapping

from multidict import CIMultiDict, CIMultiDictProxy


class UpstreamAnswer:
    """An answer whose status, headers and first body chunk are in.

    ``first_chunk`` is the body's first chunk (``b""`` for an empty body); ``read()``
    gives each next one, ``b""`` at the end. ``ended`` is True once no chunk is left
    to read (then ``first_chunk`` and what was read are the whole body).
    """

    __slots__ = ("first_chunk", "headers", "status")

    status: int
    headers: CIMultiDictProxy[str]
    first_chunk: bytes

    async def read(self) -> bytes:
        raise NotImplementedError

    @property
    def ended(self) -> bool:
        raise NotImplementedError

    @property
    def content_type(self) -> str:
        """The media type, lower-case, without parameters (``""`` when absent)."""
        value = self.headers.get("Content-Type", "")
        return value.partition(";")[0].strip().lower()

    def abort(self, error: BaseException) -> None:
        """Make the pending (or next) ``read()`` raise ``error`` (e.g. a shutdown)."""
        raise NotImplementedError

    def close(self) -> None:
        """Let go of the answer; safe to call more than once."""
        raise NotImplementedError

    async def __aenter__(self) -> UpstreamAnswer:
        return self

    async def __aexit__(self, *exc_info) -> None:
        self.close()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The whole body, chunk by chunk: ``first_chunk``, then each ``read()``."""
        if self.first_chunk:
            yield self.first_chunk
        while chunk := await self.read():
            yield chunk


class BytesAnswer(UpstreamAnswer):
    """An answer from memory: a cached answer, or a test double of an upstream.

    ``chunks`` are the body as it arrives; an exception among them is raised by the
    ``read()`` that reaches it (an upstream that breaks mid-answer).
    """

    __slots__ = ("_rest", "closed")

    def __init__(
        self,
        status: int = 200,
        headers: Mapping[str, str] | Iterable[tuple[str, str]] = (),
        chunks: Iterable[bytes | BaseException] = (),
    ) -> None:
        self.status = status
        self.headers = CIMultiDictProxy(CIMultiDict(headers))
        rest: deque[bytes | BaseException] = deque(chunks)
        first = rest.popleft() if rest else b""
        if isinstance(first, BaseException):
            raise TypeError("the first chunk arrived with the answer: it cannot be an error")
        self.first_chunk = first
        self._rest = rest
        self.closed = False

    async def read(self) -> bytes:
        if not self._rest:
            return b""
        item = self._rest.popleft()
        if isinstance(item, BaseException):
            self._rest.appendleft(item)  # a broken answer stays broken
            raise item
        return item

    @property
    def ended(self) -> bool:
        return not self._rest

    def abort(self, error: BaseException) -> None:
        self._rest = deque([error])

    def close(self) -> None:
        self.closed = True
