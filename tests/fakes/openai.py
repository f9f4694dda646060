"""A fake OpenAI API: the real wire format, programmable per test.

Answers ``/v1/chat/completions`` (JSON, and SSE with ``stream_options.include_usage``),
``/v1/completions``, ``/v1/embeddings`` (float and base64), ``/v1/images/generations``,
``/v1/audio/speech`` (binary, chunked), ``/v1/audio/transcriptions`` (multipart),
``/v1/models``; any other path echoes what it received. Every request is recorded.

Knobs a test sets before calling (all asyncio-synchronised, no sleeps):

* ``gate``: an Event; a stream (SSE or speech) waits on it after its first content chunk.
* ``first_chunk_sent``: set once the first content chunk has been written.
* ``die_after_chunks``: abort the connection after that many SSE events.
* ``hang``: an Event the handler waits on before answering (for timeouts).
* ``error``: (status, json) answered instead of the normal reply.
* ``disconnected``: set when the gateway closes the connection mid-answer.
* ``request_seen``: set when a request has arrived.
* ``extra_headers``: headers added to every answer (e.g. ``CLOUDFLARE_HEADERS``, what
  OpenAI's edge adds, or an internal header that must not reach clients).
* ``script``: what the next requests get, one item each, before normal service:
  ``Fail(status, ...)`` (an OpenAI error answer), ``HANG`` (wait on ``released``, an
  Event tests leave unset, until the gateway gives up) or ``DROP`` (close the
  connection without answering). Routing tests use it for "the first N requests fail".
* ``tool_calls``: ``[(id, name, arguments dict), ...]``: the chat answer calls these
  tools (``finish_reason: tool_calls``); a stream sends each call's id and name
  first, then its arguments in two pieces.
* ``reasoning``: thinking text sent before the answer as ``reasoning_content`` (as
  DeepSeek and vLLM do); ``finish_reason``: replaces ``stop`` / ``tool_calls``;
  ``stop_reason``: vLLM's extra choice field naming the matched stop string.
* ``strict``: check chat bodies as OpenAI does: a 400 for a parameter it does not
  know (``Unrecognized request argument supplied``) and for a tool message that
  answers no preceding tool call.
"""

from __future__ import annotations

import asyncio
import base64
import struct
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP

import orjson
from aiohttp import web
from multidict import CIMultiDict

API_KEY_PREFIX = "sk-test"
MODEL = "gpt-4o-mini-2024-07-18"


HANG = "hang"
DROP = "drop"


@dataclass(frozen=True)
class Fail:
    status: int
    message: str = "The server had an error while processing your request."
    type: str = "server_error"
    headers: dict = field(default_factory=dict)


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: CIMultiDict
    body: bytes
    raw_path: str = ""  # the request target exactly as received


@dataclass
class FakeOpenAI:
    requests: list[Recorded] = field(default_factory=list)
    gate: asyncio.Event | None = None
    first_chunk_sent: asyncio.Event = field(default_factory=asyncio.Event)
    die_after_chunks: int | None = None
    hang: asyncio.Event | None = None
    error: tuple[int, dict] | None = None
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)
    request_seen: asyncio.Event = field(default_factory=asyncio.Event)
    script: list = field(default_factory=list)
    released: asyncio.Event = field(default_factory=asyncio.Event)
    extra_headers: dict[str, str] = field(default_factory=dict)
    tool_calls: list | None = None
    reasoning: str | None = None
    finish_reason: str | None = None
    stop_reason: str | None = None
    strict: bool = False
    url: str = ""  # base URL including /v1, set by the fixture

    def app(self) -> web.Application:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.on_response_prepare.append(self._add_extra_headers)
        app.router.add_post("/v1/chat/completions", self._guarded(self.chat))
        app.router.add_post("/v1/completions", self._guarded(self.completions))
        app.router.add_post("/v1/embeddings", self._guarded(self.embeddings))
        app.router.add_post("/v1/responses", self._guarded(self.responses))
        app.router.add_post("/v1/images/generations", self._guarded(self.images))
        app.router.add_post("/v1/audio/speech", self._guarded(self.speech))
        app.router.add_post("/v1/audio/transcriptions", self._guarded(self.transcriptions))
        app.router.add_get("/v1/models", self._guarded(self.models))
        app.router.add_get("/v1/files/{file_id}/content", self._guarded(self.file_content))
        app.router.add_route("*", "/{tail:.*}", self._guarded(self.echo))
        return app

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def _add_extra_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in self.extra_headers.items():
            response.headers.add(name, value)

    def _guarded(self, handler):
        async def wrapped(request: web.Request):
            body = await request.read()
            self.requests.append(
                Recorded(
                    request.method, request.path, request.query_string, CIMultiDict(request.headers), body, request.raw_path
                )
            )
            self.request_seen.set()
            try:
                if self.script:
                    step = self.script.pop(0)
                    if step == HANG:
                        await self.released.wait()
                    elif step == DROP:
                        request.transport.abort()
                        return web.Response()
                    else:
                        return _error(step.status, step.message, step.type, None, step.headers)
                if self.hang is not None:
                    await self.hang.wait()
                auth = request.headers.get("Authorization", "").removeprefix("Bearer ")
                key = auth or request.headers.get("api-key", "")  # Azure's header
                if not key.startswith(API_KEY_PREFIX) and not request.path.startswith("/open/"):
                    return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")
                if self.error is not None:
                    status, payload = self.error
                    return web.json_response(payload, status=status, headers=_rate_headers())
                return await handler(request, body)
            except asyncio.CancelledError:
                self.disconnected.set()
                raise

        return wrapped

    async def chat(self, request: web.Request, body: bytes):
        params = orjson.loads(body)
        if self.strict:
            problem = chat_problem(params)
            if problem is not None:
                return _error(400, problem, "invalid_request_error", None)
        if self.tool_calls is not None or self.reasoning is not None or self.finish_reason or self.stop_reason:
            return await self.scripted_chat(request, params)
        words = reply_words(params)
        created = int(time.time())
        completion_id = "chatcmpl-fake123"
        if not params.get("stream"):
            text = "".join(words)
            return web.json_response(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": MODEL,
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text, "refusal": None, "annotations": []},
                            "logprobs": None,
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": usage(params, words),
                    "service_tier": "default",
                    "system_fingerprint": "fp_fake",
                },
                headers=_rate_headers(),
            )
        include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8", **_rate_headers()})
        await response.prepare(request)

        def chunk(delta: dict, finish_reason=None) -> dict:
            event = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
            }
            if include_usage:
                event["usage"] = None
            return event

        events = [chunk({"role": "assistant", "content": "", "refusal": None})]
        events += [chunk({"content": word}) for word in words]
        events.append(chunk({}, "stop"))
        if include_usage:
            events.append(
                {
                    "id": completion_id,
                    "object": "chat.completion.chunk",
                    "created": created,
                    "model": MODEL,
                    "system_fingerprint": "fp_fake",
                    "choices": [],
                    "usage": usage(params, words),
                }
            )
        for number, event in enumerate(events):
            if self.die_after_chunks is not None and number == self.die_after_chunks:
                request.transport.abort()
                return response
            await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
            if number == 1:
                self.first_chunk_sent.set()
                if self.gate is not None:
                    await self.gate.wait()
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def scripted_chat(self, request: web.Request, params: dict):
        """A chat answer with the knobs' reasoning, text (when no tools) and tool calls."""
        words = [] if self.tool_calls else reply_words(params)
        calls = self.tool_calls or []
        finish = self.finish_reason or ("tool_calls" if calls else "stop")
        created = int(time.time())
        head = {"id": "chatcmpl-fake456", "created": created, "model": MODEL, "system_fingerprint": "fp_fake"}
        answer_usage = usage(params, words or ["x"] * 8)
        if not params.get("stream"):
            message = {"role": "assistant", "content": "".join(words) or None, "refusal": None, "annotations": []}
            if self.reasoning is not None:
                message["reasoning_content"] = self.reasoning
            if calls:
                message["tool_calls"] = [
                    {"id": id_, "type": "function", "function": {"name": name, "arguments": orjson.dumps(args).decode()}}
                    for id_, name, args in calls
                ]
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
            if self.stop_reason is not None:
                choice["stop_reason"] = self.stop_reason
            return web.json_response({**head, "object": "chat.completion", "choices": [choice], "usage": answer_usage})
        include_usage = bool((params.get("stream_options") or {}).get("include_usage"))

        def chunk(delta: dict, finish_reason=None) -> dict:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            if finish_reason and self.stop_reason is not None:
                choice["stop_reason"] = self.stop_reason
            return {**head, "object": "chat.completion.chunk", "choices": [choice], **({"usage": None} if include_usage else {})}

        events = [chunk({"role": "assistant", "content": ""})]
        if self.reasoning is not None:
            events += [chunk({"reasoning_content": piece}) for piece in _halves(self.reasoning)]
        events += [chunk({"content": word}) for word in words]
        for index, (id_, name, args) in enumerate(calls):
            start = {"index": index, "id": id_, "type": "function", "function": {"name": name, "arguments": ""}}
            events.append(chunk({"tool_calls": [start]}))
            for piece in _halves(orjson.dumps(args).decode()):
                events.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
        events.append(chunk({}, finish))
        if include_usage:
            events.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": answer_usage})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8", **_rate_headers()})
        await response.prepare(request)
        for number, event in enumerate(events):
            if self.die_after_chunks is not None and number == self.die_after_chunks:
                request.transport.abort()
                return response
            await response.write(b"data: " + orjson.dumps(event) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    async def responses(self, request: web.Request, body: bytes):
        """OpenAI's Responses API: a ``response`` object, or its typed SSE events
        (``response.created``, ``response.output_text.delta`` per word,
        ``response.output_text.done``, ``response.completed`` with the usage), each
        ``event: <type>`` with a ``data`` that repeats the type and a ``sequence_number``."""
        params = orjson.loads(body)
        text = params["input"] if isinstance(params.get("input"), str) else "Hi"
        words = ["You", " said:"] + [" " + word for word in text.split()]
        item = {
            "id": "msg_fake01",
            "type": "message",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "".join(words), "annotations": []}],
        }
        usage = {
            "input_tokens": len(text.split()),
            "input_tokens_details": {"cached_tokens": 1},
            "output_tokens": len(words),
            "output_tokens_details": {"reasoning_tokens": 2},
            "total_tokens": len(text.split()) + len(words),
        }
        whole = {
            "id": "resp_fake01",
            "object": "response",
            "created_at": int(time.time()),
            "status": "completed",
            "model": params["model"],
            "output": [item],
            "usage": usage,
        }
        if not params.get("stream"):
            return web.json_response(whole, headers={"x-request-id": "req_responses"})
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        start = {**whole, "status": "in_progress", "output": [], "usage": None}
        events = [("response.created", {"response": start})]
        events += [
            ("response.output_text.delta", {"item_id": "msg_fake01", "output_index": 0, "content_index": 0, "delta": w})
            for w in words
        ]
        events.append(
            (
                "response.output_text.done",
                {"item_id": "msg_fake01", "output_index": 0, "content_index": 0, "text": "".join(words)},
            )
        )
        events.append(("response.completed", {"response": whole}))
        for number, (name, data) in enumerate(events):
            payload = orjson.dumps({"type": name, "sequence_number": number, **data})
            await response.write(b"event: " + name.encode() + b"\ndata: " + payload + b"\n\n")
        await response.write_eof()
        return response

    async def completions(self, request, body):
        params = orjson.loads(body)
        return web.json_response(
            {
                "id": "cmpl-fake",
                "object": "text_completion",
                "created": int(time.time()),
                "model": "gpt-3.5-turbo-instruct",
                "choices": [{"text": " world", "index": 0, "logprobs": None, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": len(str(params.get("prompt")).split()), "completion_tokens": 1, "total_tokens": 2},
            }
        )

    async def embeddings(self, request, body):
        params = orjson.loads(body)
        inputs = params["input"] if isinstance(params["input"], list) else [params["input"]]
        data = []
        for index, text in enumerate(inputs):
            vector = [float(len(text)), 0.5, -0.25]
            if params.get("encoding_format") == "base64":
                embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            else:
                embedding = vector
            data.append({"object": "embedding", "index": index, "embedding": embedding})
        return web.json_response(
            {
                "object": "list",
                "data": data,
                "model": params["model"],
                "usage": {"prompt_tokens": len(inputs), "total_tokens": len(inputs)},
            }
        )

    async def images(self, request, body):
        params = orjson.loads(body)
        return web.json_response(
            {"created": int(time.time()), "data": [{"url": "https://images.example/1.png", "revised_prompt": params["prompt"]}]}
        )

    async def speech(self, request, body):
        params = orjson.loads(body)
        response = web.StreamResponse(headers={"Content-Type": "audio/mpeg"})
        await response.prepare(request)
        for number, part in enumerate(speech_audio(params["input"])):
            await response.write(part)
            if number == 0:
                self.first_chunk_sent.set()
                if self.gate is not None:
                    await self.gate.wait()
        await response.write_eof()
        return response

    async def transcriptions(self, request, body):
        fields = parse_multipart(request.headers["Content-Type"], body)
        return web.json_response({"text": f"{fields['file_name']}:{fields['file_size']}:{fields['model']}"})

    async def models(self, request, body):
        return web.json_response(
            {
                "object": "list",
                "data": [
                    {"id": "gpt-4o-mini", "object": "model", "created": 1721172741, "owned_by": "system"},
                    {"id": "text-embedding-3-small", "object": "model", "created": 1705948997, "owned_by": "system"},
                ],
            }
        )

    async def file_content(self, request, body):
        return web.Response(
            body=FILE_CONTENT,
            headers={
                "Content-Type": "application/octet-stream",
                "Content-Disposition": 'attachment; filename="batch_input.jsonl"',
                "x-request-id": "req_file",
            },
        )

    async def echo(self, request, body):
        return web.json_response(
            {
                "method": request.method,
                "path": request.path,
                "raw_path": request.raw_path,
                "body_size": len(body),
                "headers": {name.lower(): value for name, value in request.headers.items()},
            },
            headers={"x-request-id": "req_echo"},
        )


# The chat-completions request body's parameters, from OpenAI's API reference.
CHAT_PARAMETERS = frozenset(
    {
        "messages", "model", "audio", "frequency_penalty", "function_call", "functions", "logit_bias", "logprobs",
        "max_completion_tokens", "max_tokens", "metadata", "modalities", "n", "parallel_tool_calls", "prediction",
        "presence_penalty", "prompt_cache_key", "reasoning_effort", "response_format", "safety_identifier", "seed",
        "service_tier", "stop", "store", "stream", "stream_options", "temperature", "tool_choice", "tools",
        "top_logprobs", "top_p", "user", "verbosity", "web_search_options",
    }
)


def chat_problem(params: dict) -> str | None:
    """What OpenAI would refuse in a chat body, or None."""
    for name in params:
        if name not in CHAT_PARAMETERS:
            return f"Unrecognized request argument supplied: {name}"
    open_calls: set[str] = set()
    for index, message in enumerate(params.get("messages") or ()):
        if message.get("role") == "assistant":
            open_calls = {call["id"] for call in message.get("tool_calls") or ()}
        elif message.get("role") == "tool":
            if message.get("tool_call_id") not in open_calls:
                return (
                    f"Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                    f"with 'tool_calls' (messages[{index}])."
                )
        else:
            open_calls = set()
    return None


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


def reply_words(params: dict) -> list[str]:
    """The fake's answer: the last user message, echoed word by word."""
    content = params["messages"][-1]["content"]
    if isinstance(content, list):
        content = " ".join(part.get("text", "") for part in content)
    words = ("You said: " + content).split(" ")
    return [words[0]] + [" " + word for word in words[1:]]


def usage(params: dict, words: list[str]) -> dict:
    prompt = sum(len(str(m.get("content", "")).split()) for m in params["messages"])
    return {
        "prompt_tokens": prompt,
        "completion_tokens": len(words),
        "total_tokens": prompt + len(words),
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def speech_audio(text: str) -> list[bytes]:
    """Deterministic fake MP3 bytes (an ID3 header and frames), in several chunks."""
    return [b"ID3\x04\x00\x00\x00\x00\x00\x00"] + [bytes([i % 256]) * 4096 + text.encode() for i in range(4)]


def parse_multipart(content_type: str, body: bytes) -> dict:
    """Form fields of a multipart body; the file as its name and size."""
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if name == "file":
            fields["file_name"] = part.get_filename()
            fields["file_size"] = len(payload)
        else:
            fields[name] = payload.decode()
    return fields


def _error(status: int, message: str, type_: str, code: str | None, headers: dict | None = None) -> web.Response:
    return web.json_response(
        {"error": {"message": message, "type": type_, "param": None, "code": code}}, status=status, headers=headers
    )


def _rate_headers() -> dict[str, str]:
    """What OpenAI documents on every API answer: request id, org, timing, rate limits."""
    return {
        "x-request-id": "req_fake_0001",
        "openai-organization": "org-fake",
        "openai-processing-ms": "12",
        "openai-version": "2020-10-01",
        "x-ratelimit-limit-requests": "10000",
        "x-ratelimit-limit-tokens": "30000000",
        "x-ratelimit-remaining-requests": "9999",
        "x-ratelimit-remaining-tokens": "29999990",
        "x-ratelimit-reset-requests": "6ms",
        "x-ratelimit-reset-tokens": "0s",
    }


FILE_CONTENT = b'{"custom_id": "1", "method": "POST", "url": "/v1/chat/completions"}\n'

# What api.openai.com's edge (Cloudflare, Envoy) adds to its answers: for its own
# clients and infrastructure, none of it for a gateway's clients.
CLOUDFLARE_HEADERS = {
    "Server": "cloudflare",
    "CF-RAY": "8f0a1b2c3d4e5f60-SJC",
    "cf-cache-status": "DYNAMIC",
    "Set-Cookie": "__cf_bm=fake; path=/; domain=.api.openai.com; HttpOnly; Secure",
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
    "X-Content-Type-Options": "nosniff",
    "x-envoy-upstream-service-time": "215",
    "access-control-expose-headers": "X-Request-ID",
    "alt-svc": 'h3=":443"; ma=86400',
}
