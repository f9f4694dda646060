"""The worker's in-flight requests (counted by the context middleware), so a shutdown knows what to wait for.

While the worker drains (after SIGTERM, or as the old generation of a reload), every
answer that has not started yet carries ``Connection: close``, so a client that
reuses a kept-alive connection is answered once more and then moves to a new
connection (which reaches a worker that is still accepting). At the drain's
deadline :meth:`InFlight.cut` ends what is left: a relayed stream with a
``gateway_shutdown`` error (an SSE error event, or a cut body), a request still
waiting for its upstream with a 503 answer. Both reach the context middleware as
values (the relay's result, the raised :class:`GatewayShutdown`), which writes the
request's state; this middleware does not.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from ..errors import GatewayShutdown


class InFlight:
    """Requests being handled by this worker, and the upstream streams being relayed."""

    def __init__(self) -> None:
        self.draining = False
        # Keyed by id(request): a request is a mapping, not hashable.
        self._tasks: dict[int, tuple[web.Request, asyncio.Task]] = {}
        self._streams: dict[int, object] = {}
        self._cut: set[int] = set()

    def __len__(self) -> int:
        return len(self._tasks)

    def relaying(self, request: web.Request, answer) -> None:
        """``answer`` (an UpstreamAnswer) is being relayed to ``request``'s client."""
        self._streams[id(request)] = answer

    def relayed(self, request: web.Request) -> None:
        self._streams.pop(id(request), None)

    def cut(self) -> int:
        """End every request still in flight; returns how many there were."""
        for key, (_request, task) in self._tasks.items():
            self._cut.add(key)
            answer = self._streams.get(key)
            if answer is not None:
                # The relay wakes up with this error and ends the stream in band.
                answer.abort(GatewayShutdown())
            else:
                task.cancel()
        return len(self._tasks)

    def cancel_all(self) -> None:
        """Last resort (a stream stuck writing to a client that reads nothing)."""
        for _, task in self._tasks.values():
            task.cancel()

    def _enter(self, request: web.Request, task: asyncio.Task) -> None:
        self._tasks[id(request)] = (request, task)

    def _leave(self, request: web.Request) -> bool:
        """Forget ``request``; True if the drain's deadline cut it."""
        key = id(request)
        del self._tasks[key]
        if not self._cut:
            cut = False
        else:
            cut = key in self._cut
            self._cut.discard(key)
        return cut


IN_FLIGHT = web.AppKey("in_flight", InFlight)


def track(request: web.Request, in_flight: InFlight) -> asyncio.Task:
    """Count ``request`` in flight until :func:`untrack` (the context middleware
    does both, around the handler: one coroutine frame fewer than a middleware of
    its own, for each request and each chunk of a stream)."""
    # The loop given: on Python 3.11 looking up the running one is a getpid() call.
    task = asyncio.current_task(request.task.get_loop())
    in_flight._enter(request, task)
    return task


def untrack(request: web.Request, in_flight: InFlight, task: asyncio.Task, cancelled: bool = False) -> None:
    """Forget ``request``; with ``cancelled``, the handler was cancelled: when the
    drain's deadline did it before the answer began, raise GatewayShutdown (the
    context middleware answers it, in the client's protocol, and closes)."""
    cut = in_flight._leave(request)
    if cancelled and cut and task.uncancel() == 0 and request.writer.output_size == 0:
        raise GatewayShutdown() from None
