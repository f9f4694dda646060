"""A fake Cohere API v2 (``api.cohere.com``): the real wire format, programmable per test.

``POST /v2/chat`` answers a chat response (``id``, ``finish_reason``, ``message{role,
content[{type: text}], tool_plan?, tool_calls?}``, ``usage{billed_units, tokens}``) or,
with ``stream: true``, typed SSE events as Cohere writes them (``event: <type>`` then a
``data`` repeating the ``type``): ``message-start``, ``content-start`` /
``content-delta`` per word / ``content-end``, or ``tool-plan-delta`` then per call
``tool-call-start`` / ``tool-call-delta`` (argument pieces) / ``tool-call-end``, and
``message-end`` (finish reason, usage). Each event is its own write.

Like Cohere it checks ``Authorization: Bearer`` (401 ``{"id", "message": "invalid api
token"}``) and the body (400 ``{"id", "message"}``): unknown fields, roles, a tool
message without ``tool_call_id``, tool calls whose arguments are not a string, a
``tool_choice`` other than REQUIRED / NONE, ``p`` outside 0.01-0.99. Models named
``command-missing*`` are 404. ``POST /v2/embed`` answers float embeddings (needs
``input_type`` and ``embedding_types``) with billed units. Every request is recorded.

Knobs: ``tool_calls`` ((id, name, arguments) to answer instead of text), ``tool_plan``;
``finish_reason``; ``error`` ((status, message) answered instead); ``end_after``: end
the stream after that many events (no message-end).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

API_KEY_PREFIX = "co-test"
CHAT_FIELDS = {
    "model",
    "messages",
    "tools",
    "strict_tools",
    "documents",
    "citation_options",
    "response_format",
    "safety_mode",
    "max_tokens",
    "stop_sequences",
    "temperature",
    "seed",
    "frequency_penalty",
    "presence_penalty",
    "k",
    "p",
    "logprobs",
    "tool_choice",
    "thinking",
    "stream",
    "priority",
}
MESSAGE_FIELDS = {
    "system": {"role", "content"},
    "user": {"role", "content"},
    "assistant": {"role", "content", "tool_calls", "tool_plan", "citations"},
    "tool": {"role", "tool_call_id", "content"},
}
EMBED_FIELDS = {
    "model",
    "texts",
    "images",
    "inputs",
    "input_type",
    "embedding_types",
    "output_dimension",
    "truncate",
    "max_tokens",
}


@dataclass
class Recorded:
    path: str
    headers: CIMultiDict
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


def error_response(status: int, message: str) -> web.Response:
    return web.json_response({"id": str(uuid.uuid4()), "message": message}, status=status)


@dataclass
class FakeCohere:
    requests: list[Recorded] = field(default_factory=list)
    tool_calls: list[tuple[str, str, dict]] | None = None
    tool_plan: str = "I will call the tool."
    finish_reason: str | None = None
    error: tuple[int, str] | None = None
    end_after: int | None = None
    url: str = ""

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v2/chat", self.chat)
        app.router.add_post("/v2/embed", self.embed)
        return app

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def _read(self, request: web.Request) -> dict | web.Response:
        body = await request.read()
        self.requests.append(Recorded(request.path, CIMultiDict(request.headers), body))
        if not request.headers.get("Authorization", "").startswith("Bearer " + API_KEY_PREFIX):
            return error_response(401, "invalid api token")
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "invalid request: body is not valid JSON")
        if not isinstance(params, dict):
            return error_response(400, "invalid request: body must be an object")
        return params

    async def chat(self, request: web.Request) -> web.StreamResponse:
        params = await self._read(request)
        if isinstance(params, web.Response):
            return params
        problem = invalid_chat(params)
        if problem:
            return error_response(400, f"invalid request: {problem}")
        if params["model"].startswith("command-missing"):
            return error_response(
                404,
                f"model '{params['model']}' not found, make sure the correct model ID was used and that you have access to the model.",
            )
        if self.error is not None:
            return error_response(*self.error)
        events = self.events(params)
        if not params.get("stream"):
            return web.json_response(whole(events))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for number, event in enumerate(events):
            if number == self.end_after:
                break
            await response.write(b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n")
        await response.write_eof()
        return response

    def events(self, params: dict) -> list[dict]:
        answer_id = "c0fe" + uuid.uuid4().hex[:12]
        events: list[dict] = [
            {
                "id": answer_id,
                "type": "message-start",
                "delta": {
                    "message": {"role": "assistant", "content": [], "tool_plan": "", "tool_calls": [], "citations": []}
                },
            }
        ]
        output = 0
        if self.tool_calls:
            declared = {t["function"]["name"] for t in params.get("tools") or ()}
            for piece in words(self.tool_plan):
                events.append({"type": "tool-plan-delta", "delta": {"message": {"tool_plan": piece}}})
            for index, (call_id, name, arguments) in enumerate(self.tool_calls):
                assert name in declared, f"fake: scripted call to {name!r}, a tool not in the request"
                text = orjson.dumps(arguments).decode()
                start = {"id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
                events.append({"type": "tool-call-start", "index": index, "delta": {"message": {"tool_calls": start}}})
                for piece in (text[: len(text) // 2], text[len(text) // 2 :]):
                    events.append(
                        {
                            "type": "tool-call-delta",
                            "index": index,
                            "delta": {"message": {"tool_calls": {"function": {"arguments": piece}}}},
                        }
                    )
                events.append({"type": "tool-call-end", "index": index})
            output = len(self.tool_plan.split()) + 10 * len(self.tool_calls)
            reason = self.finish_reason or "TOOL_CALL"
        else:
            reply = "You said: " + last_user_text(params)
            events.append(
                {"type": "content-start", "index": 0, "delta": {"message": {"content": {"type": "text", "text": ""}}}}
            )
            for piece in words(reply):
                events.append({"type": "content-delta", "index": 0, "delta": {"message": {"content": {"text": piece}}}})
            events.append({"type": "content-end", "index": 0})
            output = len(reply.split())
            reason = self.finish_reason or "COMPLETE"
        prompt = count_words(params)
        usage = {
            "billed_units": {"input_tokens": prompt, "output_tokens": output},
            "tokens": {"input_tokens": prompt + 200, "output_tokens": output + 2},
        }
        events.append({"type": "message-end", "delta": {"finish_reason": reason, "usage": usage}})
        return events

    async def embed(self, request: web.Request) -> web.Response:
        params = await self._read(request)
        if isinstance(params, web.Response):
            return params
        unknown = set(params) - EMBED_FIELDS
        if unknown:
            return error_response(400, f"invalid request: unknown field {sorted(unknown)[0]!r}")
        if not params.get("input_type") or params.get("embedding_types") != ["float"]:
            return error_response(400, "invalid request: input_type and embedding_types are required for v2 embed")
        size = params.get("output_dimension", 4)
        texts = params.get("texts") or []
        vectors = [[round(0.01 * (n + 1) * len(t), 4) for n in range(size)] for t in texts]
        billed = sum(len(t.split()) for t in texts)
        return web.json_response(
            {
                "id": str(uuid.uuid4()),
                "embeddings": {"float": vectors},
                "texts": texts,
                "meta": {"api_version": {"version": "2"}, "billed_units": {"input_tokens": billed}},
                "response_type": "embeddings_by_type",
            }
        )


def whole(events: list[dict]) -> dict:
    """The non-streamed answer: what the events add up to."""
    text, plan, calls = "", "", []
    for event in events:
        message = (event.get("delta") or {}).get("message") or {}
        if event["type"] == "content-delta":
            text += message["content"]["text"]
        elif event["type"] == "tool-plan-delta":
            plan += message["tool_plan"]
        elif event["type"] == "tool-call-start":
            calls.append(dict(message["tool_calls"], function=dict(message["tool_calls"]["function"])))
        elif event["type"] == "tool-call-delta":
            calls[-1]["function"]["arguments"] += message["tool_calls"]["function"]["arguments"]
    message: dict[str, Any] = {"role": "assistant"}
    if calls:
        message.update(tool_plan=plan, tool_calls=calls)
    else:
        message["content"] = [{"type": "text", "text": text}]
    end = events[-1]["delta"]
    return {"id": events[0]["id"], "finish_reason": end["finish_reason"], "message": message, "usage": end["usage"]}


def invalid_chat(params: dict) -> str | None:
    unknown = set(params) - CHAT_FIELDS
    if unknown:
        return f"unknown field: parameter '{sorted(unknown)[0]}' is not a valid field"
    if not isinstance(params.get("model"), str):
        return "model is required"
    messages = params.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    for i, message in enumerate(messages):
        role = message.get("role") if isinstance(message, dict) else None
        if role not in MESSAGE_FIELDS:
            return f"messages[{i}]: invalid role {role!r}"
        extra = set(message) - MESSAGE_FIELDS[role]
        if extra:
            return f"messages[{i}]: unknown field {sorted(extra)[0]!r}"
        if role == "tool" and not message.get("tool_call_id"):
            return f"messages[{i}]: tool_call_id is required"
        for call in message.get("tool_calls") or ():
            if not isinstance((call.get("function") or {}).get("arguments"), str):
                return f"messages[{i}]: tool call arguments must be a string"
    if params.get("tool_choice") not in (None, "REQUIRED", "NONE"):
        return "tool_choice must be REQUIRED or NONE"
    if "p" in params and not 0.01 <= params["p"] <= 0.99:
        return "p must be between 0.01 and 0.99"
    return None


def words(value: str) -> list[str]:
    parts = value.split(" ")
    return [parts[0]] + [" " + part for part in parts[1:]]


def last_user_text(params: dict) -> str:
    for message in reversed(params["messages"]):
        if message["role"] == "user":
            content = message["content"]
            return content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
    return ""


def count_words(params: dict) -> int:
    total = 0
    for message in params["messages"]:
        content = message.get("content") or ""
        total += (
            len(content.split()) if isinstance(content, str) else sum(len(p.get("text", "").split()) for p in content)
        )
    return total
