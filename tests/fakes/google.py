"""A fake Gemini API (generativelanguage.googleapis.com): the real wire format,
programmable per test.

Routes (``{model}`` is ``models/<id>``): ``POST /v1beta/{model}:generateContent``
answers a ``GenerateContentResponse`` (``candidates``, ``usageMetadata``,
``modelVersion``, ``responseId``); ``:streamGenerateContent?alt=sse`` answers the same
as SSE (``data: <GenerateContentResponse>\\r\\n\\r\\n``), each event holding only new
parts: text split by words, a ``functionCall`` whole, ``finishReason`` and the
complete usage in the last one, then the connection ends (no end marker).
``:embedContent`` and ``:batchEmbedContents`` answer deterministic vectors.

Like Gemini it checks the key in ``x-goog-api-key`` (none: 403 ``PERMISSION_DENIED``;
a wrong one: 400 ``INVALID_ARGUMENT`` "API key not valid") and validates the body as
the API does, answering 400 ``INVALID_ARGUMENT`` for: a field the request type does
not have (``Invalid JSON payload received. Unknown name ...``, checked through
contents, parts, systemInstruction, tools, toolConfig, generationConfig, thinkingConfig
and every Schema), a role other than ``user`` / ``model``, empty contents or parts,
an empty text, a ``functionResponse`` without a name, an OBJECT schema with an empty
``properties``, an unknown schema type, ``allowedFunctionNames`` outside mode ANY or
naming an undeclared function, a batch request whose model is not the URL's. Models
named ``gemini-missing*`` are 404 ``NOT_FOUND``. Every request is recorded.

Knobs a test sets before calling:

* ``reply``: per candidate, the parts to answer (default: one text part echoing the
  last user text, for each of ``candidateCount``); ``finish_reason`` (default STOP);
  ``usage``: extra ``usageMetadata`` counts (thoughts, cached);
* ``error``: (HTTP status, Google status, message) answered instead;
* ``block_reason``: answer a blocked prompt (``promptFeedback``, no candidates);
* ``error_event_after``: in a stream, send ``data: {"error": ...}`` after that many events;
* ``end_after``: end the stream cleanly after that many events (no finishReason);
* ``gate``: an Event a stream waits on after its first event (``first_event_sent``).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from multidict import CIMultiDict

API_KEY_PREFIX = "AIza-test"
RESPONSE_ID = "fakeGeminiResponse01"

# The fields of each request type, from the API reference (camelCase, as sent).
REQUEST_FIELDS = {
    "contents",
    "tools",
    "toolConfig",
    "safetySettings",
    "systemInstruction",
    "generationConfig",
    "cachedContent",
}
CONTENT_FIELDS = {"role", "parts"}
PART_FIELDS = {
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "thought",
    "thoughtSignature",
    "videoMetadata",
    "partMetadata",
}
DATA_FIELDS = {"inlineData": {"mimeType", "data"}, "fileData": {"mimeType", "fileUri"}}
CALL_FIELDS = {"id", "name", "args"}
RESPONSE_FIELDS = {"id", "name", "response", "parts", "willContinue", "scheduling"}
TOOL_FIELDS = {"functionDeclarations", "googleSearch", "googleSearchRetrieval", "codeExecution", "urlContext"}
DECLARATION_FIELDS = {
    "name",
    "description",
    "parameters",
    "parametersJsonSchema",
    "response",
    "responseJsonSchema",
    "behavior",
}
GENERATION_FIELDS = {
    "stopSequences",
    "responseMimeType",
    "responseSchema",
    "responseJsonSchema",
    "responseModalities",
    "candidateCount",
    "maxOutputTokens",
    "temperature",
    "topP",
    "topK",
    "seed",
    "presencePenalty",
    "frequencyPenalty",
    "responseLogprobs",
    "logprobs",
    "enableEnhancedCivicAnswers",
    "speechConfig",
    "thinkingConfig",
    "mediaResolution",
}
THINKING_FIELDS = {"includeThoughts", "thinkingBudget", "thinkingLevel"}
SCHEMA_FIELDS = {
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "default",
    "items",
    "minimum",
    "maximum",
}
SCHEMA_TYPES = {"TYPE_UNSPECIFIED", "STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT", "NULL"}
EMBED_FIELDS = {"model", "content", "taskType", "title", "outputDimensionality"}


class Invalid(Exception):
    """A request the real API refuses with 400 INVALID_ARGUMENT."""


@dataclass
class Recorded:
    method: str
    path: str
    query: str
    headers: CIMultiDict
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


def text(value: str, *, thought: bool = False) -> dict:
    return {"text": value, "thought": True} if thought else {"text": value}


def function_call(name: str, args: dict, signature: str | None = None) -> dict:
    part: dict[str, Any] = {"functionCall": {"name": name, "args": args}}
    if signature:
        part["thoughtSignature"] = signature
    return part


@dataclass
class FakeGemini:
    requests: list[Recorded] = field(default_factory=list)
    reply: list[list[dict]] | None = None
    finish_reason: str = "STOP"
    usage: dict[str, int] = field(default_factory=dict)
    error: tuple[int, str, str] | None = None
    block_reason: str | None = None
    error_event_after: int | None = None
    end_after: int | None = None
    gate: asyncio.Event | None = None
    first_event_sent: asyncio.Event = field(default_factory=asyncio.Event)
    url: str = ""  # the base URL (no /v1beta), set by the fixture

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1beta/{resource:(models|tunedModels)/[^:/]+}:{method}", self.handle)
        return app

    @property
    def last(self) -> Recorded:
        return self.requests[-1]

    async def handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(request.method, request.path, request.query_string, CIMultiDict(request.headers), body)
        )
        key = request.headers.get("x-goog-api-key")
        if not key:
            return error_response(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established identity).",
            )
        if not key.startswith(API_KEY_PREFIX):
            return error_response(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.")
        return await self.answer(request, body, request.match_info["resource"], request.match_info["method"])

    async def answer(self, request: web.Request, body: bytes, resource: str, method: str) -> web.StreamResponse:
        """The answer to an authenticated request (Vertex's fake reuses it)."""
        try:
            params = orjson.loads(body)
        except orjson.JSONDecodeError:
            return error_response(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
        try:
            if method in ("generateContent", "streamGenerateContent"):
                check_generate(params)
            elif method == "embedContent":
                check_embed(params)
            elif method == "batchEmbedContents":
                check_batch(params, resource)
            else:
                return error_response(404, "NOT_FOUND", f"Method {method} not found.")
        except Invalid as problem:
            return error_response(400, "INVALID_ARGUMENT", str(problem))
        if resource.startswith("models/gemini-missing"):
            return error_response(404, "NOT_FOUND", f"{resource} is not found for API version v1beta.")
        if self.error is not None:
            return error_response(*self.error)
        if method == "embedContent":
            return web.json_response({"embedding": {"values": vector(params)}})
        if method == "batchEmbedContents":
            return web.json_response({"embeddings": [{"values": vector(item)} for item in params["requests"]]})
        if method == "generateContent":
            return web.json_response(self.response(params, resource))
        if request.query.get("alt") != "sse":
            return error_response(400, "INVALID_ARGUMENT", "fake: streams are only served as SSE (alt=sse)")
        return await self.stream(request, params, resource)

    def response(self, params: dict, resource: str) -> dict:
        if self.block_reason:
            return {
                "promptFeedback": {"blockReason": self.block_reason, "safetyRatings": []},
                "usageMetadata": {"promptTokenCount": count_words(params), "totalTokenCount": count_words(params)},
                "modelVersion": resource.removeprefix("models/"),
                "responseId": RESPONSE_ID,
            }
        count = (params.get("generationConfig") or {}).get("candidateCount", 1)
        replies = self.reply if self.reply is not None else [[text("You said: " + last_user_text(params))]] * count
        candidates = [
            {"content": {"parts": parts, "role": "model"}, "finishReason": self.finish_reason, "index": index}
            for index, parts in enumerate(replies)
        ]
        output = sum(
            len(part.get("text", "").split()) + (8 if "functionCall" in part else 0)
            for parts in replies
            for part in parts
            if not part.get("thought")
        )
        prompt = count_words(params)
        usage = {"promptTokenCount": prompt, "candidatesTokenCount": output, **self.usage}
        usage["totalTokenCount"] = prompt + output + usage.get("thoughtsTokenCount", 0)
        return {
            "candidates": candidates,
            "usageMetadata": usage,
            "modelVersion": resource.removeprefix("models/"),
            "responseId": RESPONSE_ID,
        }

    async def stream(self, request: web.Request, params: dict, resource: str) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for number, event in enumerate(stream_events(self.response(params, resource))):
            if number == self.error_event_after:
                error = {
                    "error": {
                        "code": 503,
                        "message": "The model is overloaded. Please try again later.",
                        "status": "UNAVAILABLE",
                    }
                }
                await response.write(b"data: " + orjson.dumps(error) + b"\r\n\r\n")
                break
            if number == self.end_after:
                break
            await response.write(b"data: " + orjson.dumps(event) + b"\r\n\r\n")
            if number == 0:
                self.first_event_sent.set()
                if self.gate is not None:
                    await self.gate.wait()
        await response.write_eof()
        return response


def stream_events(whole: dict) -> list[dict]:
    """A whole response as Gemini streams it: new parts only, the finish and usage last."""
    meta = {"modelVersion": whole["modelVersion"], "responseId": whole["responseId"]}
    if "candidates" not in whole:
        return [whole]
    usage = whole["usageMetadata"]
    events = []
    for candidate in whole["candidates"]:
        pieces: list[dict] = []
        for part in candidate["content"]["parts"]:
            if "text" in part:
                pieces += [{**part, "text": piece} for piece in words(part["text"])]
            else:
                pieces.append(part)
        for piece in pieces:
            chunk = {"content": {"parts": [piece], "role": "model"}, "index": candidate["index"]}
            events.append(
                {"candidates": [chunk], "usageMetadata": {"promptTokenCount": usage["promptTokenCount"]}, **meta}
            )
        last = {
            "content": {"parts": [], "role": "model"},
            "finishReason": candidate["finishReason"],
            "index": candidate["index"],
        }
        events.append({"candidates": [last], "usageMetadata": usage, **meta})
    return events


def words(value: str) -> list[str]:
    parts = value.split(" ")
    return [parts[0]] + [" " + part for part in parts[1:]]


def error_response(status: int, google_status: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": status, "message": message, "status": google_status}}, status=status)


def _fields(value: Any, allowed: set[str], path: str) -> dict:
    if not isinstance(value, dict):
        raise Invalid(f"Invalid value at '{path}': expected an object")
    for name in value:
        if name not in allowed:
            raise Invalid(f"Invalid JSON payload received. Unknown name \"{name}\" at '{path}': Cannot find field.")
    return value


def check_generate(params: Any) -> None:
    _fields(params, REQUEST_FIELDS, "request")
    contents = params.get("contents")
    if not isinstance(contents, list) or not contents:
        raise Invalid("* GenerateContentRequest.contents: contents is not specified")
    for i, content in enumerate(contents):
        _content(content, f"contents[{i}]", role_required=True)
    if "systemInstruction" in params:
        _content(params["systemInstruction"], "system_instruction", role_required=False)
    declared: set[str] = set()
    for i, tool in enumerate(params.get("tools") or ()):
        _fields(tool, TOOL_FIELDS, f"tools[{i}]")
        for j, declaration in enumerate(tool.get("functionDeclarations") or ()):
            _fields(declaration, DECLARATION_FIELDS, f"tools[{i}].function_declarations[{j}]")
            if not declaration.get("name"):
                raise Invalid(
                    f"* GenerateContentRequest.tools[{i}].function_declarations[{j}].name: Name cannot be empty."
                )
            declared.add(declaration["name"])
            if "parameters" in declaration:
                _schema(declaration["parameters"], f"tools[{i}].function_declarations[{j}].parameters")
    calling = (params.get("toolConfig") or {}).get("functionCallingConfig")
    if calling is not None:
        _fields(params["toolConfig"], {"functionCallingConfig", "retrievalConfig"}, "tool_config")
        _fields(calling, {"mode", "allowedFunctionNames"}, "tool_config.function_calling_config")
        if calling.get("mode") not in ("AUTO", "ANY", "NONE", "VALIDATED", None):
            raise Invalid(f"Invalid value at 'tool_config.function_calling_config.mode' ({calling.get('mode')})")
        names = calling.get("allowedFunctionNames")
        if names is not None:
            if calling.get("mode") != "ANY":
                raise Invalid(
                    "* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: only allowed with mode ANY"
                )
            for name in names:
                if name not in declared:
                    raise Invalid(
                        f"* GenerateContentRequest.tool_config.function_calling_config.allowed_function_names: {name} is not declared"
                    )
    generation = params.get("generationConfig")
    if generation is not None:
        _fields(generation, GENERATION_FIELDS, "generation_config")
        if "thinkingConfig" in generation:
            _fields(generation["thinkingConfig"], THINKING_FIELDS, "generation_config.thinking_config")
        if "responseSchema" in generation:
            _schema(generation["responseSchema"], "generation_config.response_schema")
        count = generation.get("candidateCount", 1)
        if not isinstance(count, int) or count < 1 or count > 8:
            raise Invalid("* GenerateContentRequest.generation_config.candidate_count: must be between 1 and 8")


def _content(content: Any, path: str, *, role_required: bool) -> None:
    _fields(content, CONTENT_FIELDS, path)
    role = content.get("role")
    if role_required and role not in ("user", "model"):
        raise Invalid("Please use a valid role: user, model.")
    parts = content.get("parts")
    if not isinstance(parts, list) or not parts:
        raise Invalid(f"* GenerateContentRequest.{path}.parts: contents.parts must not be empty.")
    for k, part in enumerate(parts):
        part_path = f"{path}.parts[{k}]"
        _fields(part, PART_FIELDS, part_path)
        if "text" in part and not part["text"]:
            raise Invalid(
                "Unable to submit request because it has an empty text parameter. Add a value to the parameter and try again."
            )
        for kind, allowed in DATA_FIELDS.items():
            if kind in part:
                _fields(part[kind], allowed, f"{part_path}.{kind}")
        if "functionCall" in part:
            _fields(part["functionCall"], CALL_FIELDS, f"{part_path}.function_call")
            if not part["functionCall"].get("name"):
                raise Invalid(f"* GenerateContentRequest.{part_path}.function_call.name: Name cannot be empty.")
        if "functionResponse" in part:
            _fields(part["functionResponse"], RESPONSE_FIELDS, f"{part_path}.function_response")
            if not part["functionResponse"].get("name"):
                raise Invalid(f"* GenerateContentRequest.{part_path}.function_response.name: Name cannot be empty.")
            if not isinstance(part["functionResponse"].get("response"), dict):
                raise Invalid(
                    f"Invalid value at '{part_path}.function_response.response': Starting an object on a scalar field"
                )


def _schema(schema: Any, path: str) -> None:
    _fields(schema, SCHEMA_FIELDS, path)
    kind = schema.get("type")
    if kind is not None and str(kind).upper() not in SCHEMA_TYPES:
        raise Invalid(f"Invalid value at '{path}.type' ({kind})")
    properties = schema.get("properties")
    if properties is not None:
        if str(kind).upper() == "OBJECT" and not properties:
            raise Invalid(f"* GenerateContentRequest.{path}.properties: should be non-empty for OBJECT type")
        for name, value in properties.items():
            _schema(value, f"{path}.properties[{name}].value")
    if "items" in schema:
        _schema(schema["items"], f"{path}.items")
    for i, alternative in enumerate(schema.get("anyOf") or ()):
        _schema(alternative, f"{path}.any_of[{i}]")
    for value in schema.get("enum") or ():
        if not isinstance(value, str):
            raise Invalid(f"Invalid value at '{path}.enum' ({value}): expected a string")


def check_embed(params: Any) -> None:
    _fields(params, EMBED_FIELDS, "request")
    _content(params.get("content"), "content", role_required=False)


def check_batch(params: Any, resource: str) -> None:
    _fields(params, {"requests"}, "request")
    requests = params.get("requests")
    if not isinstance(requests, list) or not requests:
        raise Invalid("* BatchEmbedContentsRequest.requests: requests is not specified")
    for i, item in enumerate(requests):
        check_embed(item)
        if item.get("model") != resource:
            raise Invalid(f"* BatchEmbedContentsRequest.requests[{i}].model: the model must be {resource}")


def vector(params: dict) -> list[float]:
    """Deterministic: the text's hash as floats, of the asked dimensionality (default 8)."""
    content = " ".join(part.get("text", "") for part in params["content"]["parts"])
    digest = hashlib.sha256(content.encode()).digest()
    size = params.get("outputDimensionality", 8)
    return [round(digest[i % len(digest)] / 255, 4) for i in range(size)]


def last_user_text(params: dict) -> str:
    for content in reversed(params["contents"]):
        if content["role"] == "user":
            texts = [part["text"] for part in content["parts"] if "text" in part]
            if texts:
                return " ".join(texts)
    return ""


def count_words(params: dict) -> int:
    contents = [*params["contents"], params.get("systemInstruction") or {"parts": []}]
    return sum(len(part.get("text", "").split()) + 1 for content in contents for part in content["parts"])
