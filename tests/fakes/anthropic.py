"""A fake Anthropic Messages API: the real wire format, programmable per test.

``POST /v1/messages`` answers a Message (JSON) or, with ``stream: true``, named SSE
events exactly as Anthropic writes them (``event: <type>`` then ``data: {"type":
"<type>", ...}``): ``message_start`` (with usage), a ``ping``, per block
``content_block_start`` / ``content_block_delta`` (``text_delta``,
``input_json_delta`` pieces starting with an empty one, ``thinking_delta``,
``signature_delta``) / ``content_block_stop``, then ``message_delta`` (stop_reason,
cumulative usage) and ``message_stop``. Each event is its own write.

Like Anthropic it checks ``x-api-key`` (401 ``authentication_error``), requires
``anthropic-version`` and a valid body (400 ``invalid_request_error``: model,
max_tokens, messages starting with user and alternating, every ``tool_result``
answering a ``tool_use`` of the turn before, no empty content or empty text block, a
``tool_choice`` naming a declared tool, no forced tool with extended thinking), and
refuses to play a scripted ``tool_use`` of a tool the request did not declare (a
model cannot call it: 500 ``api_error``). It answers models named
``claude-missing*`` with 404 ``not_found_error``. Every request is recorded.

Knobs a test sets before calling (asyncio-synchronised, no sleeps):

* ``reply``: the content blocks to answer (default: a text block echoing the last
  user text); ``stop_reason`` (default ``tool_use`` when a block is one, else
  ``end_turn``); ``usage``: extra usage counts (cache reads and writes).
* ``error``: (status, type, message) answered instead, in Anthropic's error JSON.
* ``error_event_after``: send ``event: error`` (``error_event_type``) after that many events.
* ``end_after``: end the stream cleanly after that many events (no ``message_stop``).
* ``abort_after``: cut the connection after that many events.
* ``extra_events``: (name, data) events sent after ``message_start`` (future types).
* ``gate``: an Event a stream waits on after its first text delta;
  ``first_delta_sent`` is set just before that wait.
* ``disconnected``: set when the gateway hangs up in the middle of a stream.
* ``raw_stream``: bytes chunks written instead of the events (a broken upstream),
  one write each, then ``raw_repeat`` (if set) every ``raw_every`` seconds; the body
  stays open until ``released`` is set.
* ``extra_headers``: headers added to every answer.

Every answer carries Anthropic's documented headers: ``request-id``,
``anthropic-organization-id`` and the ``anthropic-ratelimit-*`` family.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

from tests.fakes.raw import write_raw

API_KEY_PREFIX = "sk-ant-test"
MESSAGE_ID = "msg_01FakeAnthropic"


@dataclass
class Recorded:
    method: str
    path: str
    headers: CIMultiDict
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def tool_use(call_id: str, name: str, arguments: dict) -> dict:
    return {"type": "tool_use", "id": call_id, "name": name, "input": arguments}


def thinking(value: str, signature: str = "sig-fake") -> dict:
    return {"type": "thinking", "thinking": value, "signature": signature}


@dataclass
class FakeAnthropic:
    requests: list[Recorded] = field(default_factory=list)
    reply: list[dict] | None = None
    stop_reason: str | None = None
    usage: dict[str, int] = field(default_factory=dict)
    error: tuple[int, str, str] | None = None
    error_event_after: int | None = None
    error_event_type: str = "overloaded_error"
    end_after: int | None = None
    abort_after: int | None = None
    extra_events: list[tuple[str, dict]] = field(default_factory=list)
    gate: asyncio.Event | None = None
    first_delta_sent: asyncio.Event = field(default_factory=asyncio.Event)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    raw_stream: list[bytes] | None = None
    raw_repeat: bytes | None = None
    raw_every: float = 0.01
    released: asyncio.Event = field(default_factory=asyncio.Event)
    extra_headers: dict[str, str] = field(default_factory=dict)
    url: str = ""  # base URL including /v1, set by the fixture

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.on_response_prepare.append(self._add_headers)
        app.router.add_post("/v1/messages", self.messages)
        return app

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def _add_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in {**RATE_LIMIT_HEADERS, **self.extra_headers}.items():
            response.headers.add(name, value)

    async def messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Recorded(request.method, request.path, CIMultiDict(request.headers), body))
        if not request.headers.get("x-api-key", "").startswith(API_KEY_PREFIX):
            return error_response(401, "authentication_error", "invalid x-api-key")
        if not request.headers.get("anthropic-version"):
            return error_response(400, "invalid_request_error", "anthropic-version: header is required")
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "invalid_request_error", "request body is not valid JSON")
        return await self.answer(request, params)

    async def answer(self, request: web.Request, params: Any) -> web.StreamResponse:
        """The answer to a parsed, authenticated request (Vertex's fake reuses it)."""
        problem = invalid_request(params)
        if problem:
            return error_response(400, "invalid_request_error", problem)
        if params["model"].startswith("claude-missing"):
            return error_response(404, "not_found_error", f"model: {params['model']}")
        if self.error is not None:
            return error_response(*self.error)
        declared = {tool.get("name") for tool in params.get("tools") or ()}
        for block in self.reply or ():
            if block["type"] == "tool_use" and block["name"] not in declared:
                return error_response(500, "api_error", f"fake: scripted call to {block['name']!r}, a tool not in the request")
        message = self.message(params)
        if not params.get("stream"):
            return web.json_response(message, headers={"request-id": "req_fake_anthropic"})
        try:
            return await self.stream(request, message)
        except asyncio.CancelledError:
            self.disconnected.set()
            raise

    def message(self, params: dict) -> dict:
        content = self.reply if self.reply is not None else [text("You said: " + last_user_text(params))]
        stop = self.stop_reason or ("tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn")
        output = sum(len(b.get("text", b.get("thinking", "")).split()) for b in content)
        output += sum(10 for b in content if b["type"] == "tool_use")
        usage = {
            "input_tokens": count_input_words(params),
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output,
            **self.usage,
        }
        return {
            "id": MESSAGE_ID,
            "type": "message",
            "role": "assistant",
            "model": params["model"],
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": usage,
        }

    async def stream(self, request: web.Request, message: dict) -> web.StreamResponse:
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream; charset=utf-8", "request-id": "req_fake_anthropic"}
        )
        await response.prepare(request)
        if self.raw_stream is not None:
            await write_raw(response, self.raw_stream, self.raw_repeat, self.raw_every, self.released)
            return response
        first_text = True
        for number, (name, data) in enumerate(stream_events(message, self.extra_events)):
            if number == self.error_event_after:
                error = {"type": "error", "error": {"type": self.error_event_type, "message": "Overloaded"}}
                await response.write(sse("error", error))
                break
            if number == self.end_after:
                break
            if number == self.abort_after:
                request.transport.abort()
                return response
            await response.write(sse(name, data))
            if first_text and data.get("delta", {}).get("type") == "text_delta":
                first_text = False
                self.first_delta_sent.set()
                if self.gate is not None:
                    await self.gate.wait()
        await response.write_eof()
        return response


RATE_LIMIT_HEADERS = {
    "anthropic-organization-id": "00000000-0000-4000-8000-00000000fake",
    "anthropic-ratelimit-requests-limit": "4000",
    "anthropic-ratelimit-requests-remaining": "3999",
    "anthropic-ratelimit-requests-reset": "2026-01-01T00:00:01Z",
    "anthropic-ratelimit-tokens-limit": "400000",
    "anthropic-ratelimit-tokens-remaining": "399000",
    "anthropic-ratelimit-tokens-reset": "2026-01-01T00:00:01Z",
}


def stream_events(message: dict, extra: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """The Message as Anthropic streams it."""
    usage = message["usage"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**usage, "output_tokens": 1}}
    events: list[tuple[str, dict]] = [("message_start", {"message": start}), *extra, ("ping", {})]
    for index, block in enumerate(message["content"]):
        kind = block["type"]
        if kind == "text":
            events.append(("content_block_start", {"index": index, "content_block": {"type": "text", "text": ""}}))
            deltas = [{"type": "text_delta", "text": piece} for piece in words(block["text"])]
        elif kind == "thinking":
            start_block = {"type": "thinking", "thinking": "", "signature": ""}
            events.append(("content_block_start", {"index": index, "content_block": start_block}))
            deltas = [{"type": "thinking_delta", "thinking": piece} for piece in words(block["thinking"])]
            deltas.append({"type": "signature_delta", "signature": block["signature"]})
        else:
            start_block = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
            events.append(("content_block_start", {"index": index, "content_block": start_block}))
            arguments = orjson.dumps(block["input"]).decode()
            thirds = [arguments[: len(arguments) // 3], arguments[len(arguments) // 3 : 2 * len(arguments) // 3]]
            pieces = ["", *thirds, arguments[2 * len(arguments) // 3 :]]
            deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in pieces]
        events += [("content_block_delta", {"index": index, "delta": delta}) for delta in deltas]
        events.append(("content_block_stop", {"index": index}))
    delta = {"stop_reason": message["stop_reason"], "stop_sequence": None}
    events.append(("message_delta", {"delta": delta, "usage": {"output_tokens": usage["output_tokens"]}}))
    events.append(("message_stop", {}))
    return events


def sse(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **data}) + b"\n\n"


def words(value: str) -> list[str]:
    parts = value.split(" ")
    return [parts[0]] + [" " + part for part in parts[1:]]


def error_response(status: int, error_type: str, message: str) -> web.Response:
    payload = {"type": "error", "error": {"type": error_type, "message": message}}
    return web.json_response(payload, status=status, headers={"request-id": "req_fake_anthropic"})


def invalid_request(params: Any) -> str | None:
    """What Anthropic would refuse in this body, or None."""
    if not isinstance(params, dict):
        return "body: must be an object"
    if not isinstance(params.get("model"), str):
        return "model: Field required"
    if not isinstance(params.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = params.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    problem = invalid_tool_choice(params)
    if problem:
        return problem
    previous_tool_ids: set[str] = set()
    for i, message in enumerate(messages):
        expected = "user" if i % 2 == 0 else "assistant"
        if message.get("role") != expected:
            return f"messages.{i}.role: roles must alternate between user and assistant, starting with user"
        final_assistant = i == len(messages) - 1 and expected == "assistant"
        if message["content"] in ("", []) and not final_assistant:
            return f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        blocks = message["content"] if isinstance(message["content"], list) else [text(message["content"])]
        for block in blocks:
            if block.get("type") == "text" and not block.get("text") and not final_assistant:
                return f"messages.{i}: text content blocks must be non-empty"
            if block.get("type") == "tool_result" and block.get("tool_use_id") not in previous_tool_ids:
                return f"messages.{i}: tool_result block(s) without a matching tool_use in the previous message"
        previous_tool_ids = {block["id"] for block in blocks if block.get("type") == "tool_use"}
    return None


def invalid_tool_choice(params: dict) -> str | None:
    choice = params.get("tool_choice") or {}
    names = {tool.get("name") for tool in params.get("tools") or ()}
    if choice.get("type") == "tool" and choice.get("name") not in names:
        return f"tool_choice.name: tool {choice.get('name')!r} not found in tools"
    thinking = params.get("thinking") or {}
    if thinking.get("type") == "enabled" and choice.get("type") in ("any", "tool"):
        return "Thinking may not be enabled when tool_choice forces tool use."
    return None


def last_user_text(params: dict) -> str:
    content = params["messages"][-1]["content"]
    if isinstance(content, str):
        return content
    return " ".join(block["text"] for block in content if block.get("type") == "text")


def count_input_words(params: dict) -> int:
    system = params.get("system") or ""
    if isinstance(system, list):
        system = " ".join(block["text"] for block in system)
    total = len(system.split())
    for message in params["messages"]:
        content = message["content"]
        if isinstance(content, str):
            total += len(content.split())
        else:
            total += sum(len(block.get("text", "").split()) + 1 for block in content)
    return total
