"""A fake AWS Bedrock Runtime: the real wire format, SigV4 checked, programmable per test.

Every request's signature is recomputed with botocore from the fake's known test
credentials (``KEYS``); a mismatch answers 403 exactly as AWS does
(``{"message": ...}`` + ``x-amzn-ErrorType``). Operations:

* ``POST /model/{modelId}/converse`` → Converse JSON answer;
* ``POST /model/{modelId}/converse-stream`` → ``application/vnd.amazon.eventstream``
  frames, one write per frame (or ``chunk_size`` bytes per write, across frames);
* ``POST /model/{modelId}/invoke`` → Titan / Cohere embeddings.

The answer is ``script`` (content blocks in Converse form, stop reason, usage); by
default the model echoes the last user text. Knobs: ``exception_at`` (frame index,
exception type, message) replaces that frame by an exception frame and ends the
stream; ``truncate_after`` ends the body after that many frames (no messageStop);
``gate`` is awaited after the first frame (after frame ``gate_after``, when set);
``first_frame_sent`` is set after the first frame.
Unknown models answer 400 ``ValidationException`` as AWS does, and so do the request
checks of :func:`converse_problem`. A scripted ``toolUse`` of a tool the request did
not declare is refused (500: a model cannot call it). ``Script.stop_sequence`` is the
sequence a ``stop_sequence`` answer matched: returned in
``additionalModelResponseFields`` (``messageStop`` in streams) only when the request
asked for ``/stop_sequence`` in ``additionalModelResponseFieldPaths``, as Claude on
Bedrock does. ``raw_stream``: bytes chunks written instead of the frames (a broken
upstream), then ``raw_repeat`` (if set) every ``raw_every`` seconds, the body open
until ``released`` is set. ``extra_headers`` are added to every answer.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import web
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict

from tests.fakes.eventstream import event_frame, exception_frame
from tests.fakes.raw import write_raw

ACCESS_KEY = "AKIATESTKEY000000001"
SECRET_KEY = "test/secret/key+0000000000000000000000001"
SESSION_ACCESS_KEY = "ASIATESTSESSIONKEY01"
SESSION_SECRET = "session/secret/key+000000000000000000002"
SESSION_TOKEN = "FwoGZXIvYXdzEXAMPLE//session+token=="
# access key → (secret, the session token it requires, if any)
KEYS = {ACCESS_KEY: (SECRET_KEY, None), SESSION_ACCESS_KEY: (SESSION_SECRET, SESSION_TOKEN)}

KNOWN_MODELS = {
    "anthropic.claude-3-5-sonnet-20241022-v2:0",
    "us.anthropic.claude-3-7-sonnet-20250219-v1:0",
    "meta.llama3-1-70b-instruct-v1:0",
    "amazon.nova-pro-v1:0",
    "amazon.titan-embed-text-v2:0",
    "cohere.embed-english-v3",
}

_PATH = re.compile(r"^/model/(?P<model>[^/]+)/(?P<op>converse|converse-stream|invoke)$")
_AUTH = re.compile(r"^AWS4-HMAC-SHA256 Credential=(?P<cred>[^,]+), SignedHeaders=(?P<signed>[^,]+), Signature=(?P<sig>[0-9a-f]+)$")


def aws_error(status: int, name: str, message: str) -> web.Response:
    return web.json_response(
        {"message": message},
        status=status,
        headers={"x-amzn-ErrorType": f"{name}:http://internal.amazon.com/coral/com.amazon.bedrock/"},
    )


@dataclass
class Script:
    content: list[dict[str, Any]]
    stop_reason: str = "end_turn"
    usage: dict[str, int] = field(default_factory=lambda: {"inputTokens": 12, "outputTokens": 5, "totalTokens": 17})
    stop_sequence: str | None = None


@dataclass
class Recorded:
    path: str  # raw, as sent
    model: str  # decoded
    headers: CIMultiDict
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        return orjson.loads(self.body)


@dataclass
class FakeBedrock:
    region: str = "us-east-1"
    requests: list[Recorded] = field(default_factory=list)
    script: Script | None = None
    exception_at: tuple[int, str, str] | None = None
    truncate_after: int | None = None
    chunk_size: int | None = None
    gate: asyncio.Event | None = None
    gate_after: int = 0
    first_frame_sent: asyncio.Event = field(default_factory=asyncio.Event)
    raw_stream: list[bytes] | None = None
    raw_repeat: bytes | None = None
    raw_every: float = 0.01
    released: asyncio.Event = field(default_factory=asyncio.Event)
    extra_headers: dict[str, str] = field(default_factory=dict)
    url: str = ""  # set by the fixture: http://127.0.0.1:PORT (Bedrock's base has no /v1)

    def app(self) -> web.Application:
        app = web.Application()
        app.on_response_prepare.append(self._add_extra_headers)
        app.router.add_post("/{tail:.*}", self.handle)
        return app

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def _add_extra_headers(self, request: web.Request, response: web.StreamResponse) -> None:
        for name, value in self.extra_headers.items():
            response.headers.add(name, value)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        raw_path = request.raw_path
        match = _PATH.match(raw_path)
        if match is None:
            return aws_error(404, "UnknownOperationException", "")
        model = unquote(match["model"])
        self.requests.append(Recorded(raw_path, model, CIMultiDict(request.headers), body))
        refused = self.check_signature(request, body)
        if refused is not None:
            return refused
        if model.rsplit("/", 1)[-1] not in KNOWN_MODELS:
            return aws_error(400, "ValidationException", "The provided model identifier is invalid.")
        payload = orjson.loads(body)
        if match["op"] == "invoke":
            return self.invoke(model, payload)
        problem = converse_problem(payload)
        if problem:
            return aws_error(400, "ValidationException", problem)
        script = self.script or echo(payload)
        declared = {tool["toolSpec"]["name"] for tool in (payload.get("toolConfig") or {}).get("tools", ()) if "toolSpec" in tool}
        for block in script.content:
            if "toolUse" in block and block["toolUse"]["name"] not in declared:
                return aws_error(500, "InternalServerException", f"fake: scripted call to {block['toolUse']['name']!r}, a tool not in the request")
        fields = additional_fields(script, payload)
        if match["op"] == "converse":
            return web.json_response(converse_answer(script, fields), headers={"x-amzn-RequestId": "req-1"})
        return await self.stream(request, script, fields)

    def check_signature(self, request: web.Request, body: bytes) -> web.Response | None:
        """Recompute the SigV4 signature with botocore, as AWS does on its side."""
        match = _AUTH.match(request.headers.get("Authorization", ""))
        if match is None:
            return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token")
        key_id, date, region, service, terminator = match["cred"].split("/")
        if key_id not in KEYS:
            return aws_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        secret, token = KEYS[key_id]
        if token is not None and request.headers.get("X-Amz-Security-Token") != token:
            return aws_error(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        signed = match["signed"].split(";")
        if "host" not in signed or "x-amz-date" not in signed or (token and "x-amz-security-token" not in signed):
            return aws_error(403, "InvalidSignatureException", "Host, X-Amz-Date and the security token must be signed.")
        if (region, service, terminator) != (self.region, "bedrock", "aws4_request"):
            return aws_error(403, "InvalidSignatureException", "Credential should be scoped to a valid region and service 'bedrock'.")
        headers = {name: request.headers.get(name, "") for name in signed}
        aws_request = AWSRequest(method=request.method, url=f"http://{request.headers['Host']}{request.raw_path}", data=body, headers=headers)
        aws_request.context["timestamp"] = request.headers.get("X-Amz-Date", "")
        if aws_request.context["timestamp"][:8] != date:
            return aws_error(403, "InvalidSignatureException", "Date in Credential scope does not match YYYYMMDD from X-Amz-Date.")
        signer = SigV4Auth(Credentials(key_id, secret, token), "bedrock", region)
        canonical = signer.canonical_request(aws_request)
        expected = signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
        if not hmac.compare_digest(expected, match["sig"]):
            return aws_error(
                403,
                "InvalidSignatureException",
                "The request signature we calculated does not match the signature you provided. "
                "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
            )
        return None

    async def stream(self, request: web.Request, script: Script, fields: dict[str, Any] | None = None) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/vnd.amazon.eventstream", "x-amzn-RequestId": "req-2"})
        await response.prepare(request)
        if self.raw_stream is not None:
            await write_raw(response, self.raw_stream, self.raw_repeat, self.raw_every, self.released)
            return response
        frames = stream_frames(script, fields)
        if self.exception_at is not None:
            index, name, message = self.exception_at
            frames = frames[:index] + [exception_frame(name, message)]
        if self.truncate_after is not None:
            frames = frames[: self.truncate_after]
        if self.chunk_size:
            data = b"".join(frames)
            frames = [data[i : i + self.chunk_size] for i in range(0, len(data), self.chunk_size)]
        for number, frame in enumerate(frames):
            await response.write(frame)
            if number == 0:
                self.first_frame_sent.set()
            if number == self.gate_after and self.gate is not None:
                await self.gate.wait()
        await response.write_eof()
        return response

    def invoke(self, model: str, payload: dict[str, Any]) -> web.Response:
        if "titan-embed" in model:
            text = payload["inputText"]
            return web.json_response({"embedding": vector(text), "inputTextTokenCount": len(text.split())})
        texts = payload["texts"]
        if payload.get("input_type") not in ("search_document", "search_query", "classification", "clustering"):
            return aws_error(400, "ValidationException", "Malformed input request: input_type is required")
        return web.json_response(
            {"embeddings": [vector(t) for t in texts], "id": "emb-1", "response_type": "embeddings_floats", "texts": texts}
        )


def vector(text: str) -> list[float]:
    return [float(len(text)), 0.5, -1.25]


def converse_problem(payload: dict[str, Any]) -> str | None:
    """The checks Bedrock makes that a bad translation would trip."""
    messages = payload.get("messages") or []
    if not messages or messages[0]["role"] != "user":
        return "A conversation must start with a user message. Try again with a conversation that starts with a user message."
    for before, after in zip(messages, messages[1:], strict=False):
        if before["role"] == after["role"]:
            return "A conversation must alternate between user and assistant roles."
    paths = payload.get("additionalModelResponseFieldPaths", [])
    if not isinstance(paths, list) or not all(isinstance(p, str) and p.startswith("/") for p in paths):
        return "additionalModelResponseFieldPaths: each path must be a JSON pointer such as /stop_sequence"
    tool_config = payload.get("toolConfig")
    if tool_config is not None:
        names = {tool["toolSpec"]["name"] for tool in tool_config.get("tools") or () if "toolSpec" in tool}
        if not names:
            return "toolConfig.tools: must contain at least one tool"
        forced = (tool_config.get("toolChoice") or {}).get("tool")
        if forced is not None and forced.get("name") not in names:
            return f"toolConfig.toolChoice.tool.name: {forced.get('name')!r} is not one of the tools"
    for message in messages:
        if not message["content"]:
            return "messages.content: a message must have at least 1 content block."
        for block in message["content"]:
            if ("toolUse" in block or "toolResult" in block) and "toolConfig" not in payload:
                return "The toolConfig field must be defined when using toolUse and toolResult content blocks."
            if "text" in block and not block["text"].strip() and "toolResult" not in block:
                return "The text field in the ContentBlock object is blank."
    return None


def echo(payload: dict[str, Any]) -> Script:
    last = payload["messages"][-1]["content"]
    text = " ".join(block["text"] for block in last if "text" in block)
    return Script([{"text": f"You said: {text}"}])


def additional_fields(script: Script, payload: dict[str, Any]) -> dict[str, Any] | None:
    """The model's own response fields the request asked for (Claude's stop_sequence)."""
    if "/stop_sequence" not in payload.get("additionalModelResponseFieldPaths", ()):
        return None
    return {"stop_sequence": script.stop_sequence}


def converse_answer(script: Script, fields: dict[str, Any] | None = None) -> dict[str, Any]:
    answer = {
        "output": {"message": {"role": "assistant", "content": script.content}},
        "stopReason": script.stop_reason,
        "usage": script.usage,
        "metrics": {"latencyMs": 42},
    }
    if fields is not None:
        answer["additionalModelResponseFields"] = fields
    return answer


def _halves(text: str) -> list[str]:
    middle = len(text) // 2
    return [part for part in (text[:middle], text[middle:]) if part]


def stream_frames(script: Script, fields: dict[str, Any] | None = None) -> list[bytes]:
    """The ConverseStream events for a scripted answer, as AWS sends them ("p" is AWS's padding)."""
    frames = [event_frame("messageStart", {"role": "assistant", "p": "abcd"})]
    for index, block in enumerate(script.content):
        if "text" in block:
            for piece in _halves(block["text"]):
                frames.append(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}, "p": "ab"}))
        elif "toolUse" in block:
            use = block["toolUse"]
            start = {"toolUse": {"toolUseId": use["toolUseId"], "name": use["name"]}}
            frames.append(event_frame("contentBlockStart", {"contentBlockIndex": index, "start": start}))
            for piece in _halves(orjson.dumps(use["input"]).decode()):
                frames.append(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"toolUse": {"input": piece}}}))
        elif "reasoningContent" in block:
            text = block["reasoningContent"]["reasoningText"]
            for piece in _halves(text["text"]):
                frames.append(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"reasoningContent": {"text": piece}}}))
            frames.append(event_frame("contentBlockDelta", {"contentBlockIndex": index, "delta": {"reasoningContent": {"signature": text["signature"]}}}))
        frames.append(event_frame("contentBlockStop", {"contentBlockIndex": index}))
    stop: dict[str, Any] = {"stopReason": script.stop_reason}
    if fields is not None:
        stop["additionalModelResponseFields"] = fields
    frames.append(event_frame("messageStop", stop))
    frames.append(event_frame("metadata", {"usage": script.usage, "metrics": {"latencyMs": 42}}))
    return frames
