"""A fake OpenAI chat upstream whose every answer is new: ``answer <n>`` for call n.

So a test can tell a cached answer (the same bytes again, the upstream not called)
from a fresh one, and which of several concurrent answers an entry holds. The wire
format is OpenAI's: JSON, or SSE (``data: {...}`` events, ``data: [DONE]``), each
event written apart. Headers say what a live call says: a request id and rate limits.

Knobs: ``gate`` (an Event every answer waits on, after the call is counted: tests
hold several calls in flight), ``fail_next`` (statuses the next calls answer with),
``die_after`` (cut a stream after that many events), ``lockstep`` (a stream sends
its next event only when the test says so).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import orjson
from aiohttp import web


@dataclass
class CountingUpstream:
    calls: int = 0
    gate: asyncio.Event | None = None
    # Set (with the count) as calls arrive: tests wait for N calls in flight.
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)
    fail_next: list[int] = field(default_factory=list)
    die_after: int | None = None
    # A stream waits for one item here after each event (the test puts one once its
    # client has read the event): each event reaches the gateway in a read of its own.
    lockstep: asyncio.Queue | None = None
    bodies: list[dict] = field(default_factory=list)
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self.chat)
        return app

    async def wait_for_calls(self, count: int) -> None:
        async with self.arrived:
            await self.arrived.wait_for(lambda: self.calls >= count)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        params = await request.json()
        self.bodies.append(params)
        async with self.arrived:
            self.calls += 1
            number = self.calls
            self.arrived.notify_all()
        headers = {
            "x-request-id": f"req_{number}",
            "x-ratelimit-remaining-requests": str(1000 - number),
            "openai-processing-ms": "7",
            "openai-version": "2020-10-01",
        }
        if self.fail_next:
            status = self.fail_next.pop(0)
            error = {"error": {"message": "upstream trouble", "type": "server_error", "param": None, "code": None}}
            return web.json_response(error, status=status, headers=headers)
        if self.gate is not None:
            await self.gate.wait()
        words = ["answer", f" {number}", " for", f" {len(params['messages'])}"]
        if not params.get("stream"):
            return web.json_response(
                {
                    "id": f"chatcmpl-{number}",
                    "object": "chat.completion",
                    "created": 1700000000 + number,
                    "model": params["model"],
                    "choices": [
                        {"index": 0, "message": {"role": "assistant", "content": "".join(words)}, "finish_reason": "stop"}
                    ],
                    "usage": {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9},
                },
                headers=headers,
            )
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **headers})
        await response.prepare(request)
        for index, event in enumerate(stream_events(number, params["model"], words)):
            if self.die_after is not None and index == self.die_after:
                request.transport.abort()
                return response
            await response.write(event)
            if self.lockstep is not None:
                await self.lockstep.get()
        await response.write_eof()
        return response


def stream_events(number: int, model: str, words: list[str]) -> list[bytes]:
    def chunk(delta, finish=None, usage=None):
        event = {
            "id": f"chatcmpl-{number}",
            "object": "chat.completion.chunk",
            "created": 1700000000 + number,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if usage is None else [],
        }
        if usage is not None:
            event["usage"] = usage
        return b"data: " + orjson.dumps(event) + b"\n\n"

    events = [chunk({"role": "assistant", "content": ""})]
    events += [chunk({"content": word}) for word in words]
    events.append(chunk({}, "stop"))
    events.append(chunk({}, usage={"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}))
    events.append(b"data: [DONE]\n\n")
    return events
