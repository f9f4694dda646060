"""The OpenAI chat request, parsed and validated once, as typed values.

:func:`parse_chat_request` turns the client's JSON object into a
:class:`ChatRequest` (slotted dataclasses all the way down) or raises a 400 whose
``param`` is the path of the field at fault (``messages[2].content[0].image_url.url``).
A translating provider reads this instead of the raw dict, so what is valid is the
same for every provider; what a provider cannot do (an image by URL on Converse,
audio on Claude) it refuses itself, naming the same paths.

Kept as the client sent them: content that was one string (``Message.content`` is
then a ``str``), ``cache_control`` markers (Anthropic's, which Portkey accepts on
parts and tools), the raw ``response_format`` and ``thinking`` objects (their rules
differ per provider: :mod:`.response_format`), and every field this module does not
know, in :attr:`ChatRequest.extra`, for providers that can pass them on.

The values are shared by every target of a fallback and are never changed once
parsed. They are not ``frozen``: a frozen dataclass sets each field through
``object.__setattr__``, which was a third of the parse (about 70 ns a field).
The parse runs once per translated request, so it keeps to fast paths for what
clients mostly send: string content, text parts, tool calls without extra keys.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson

from ..errors import BadRequest
from .chat_parts import data_url, tool_call_input

_DATA_URL = "a data:<media type>;base64,<data> URL"
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(slots=True)
class TextPart:
    text: str
    cache_control: Any = None


@dataclass(slots=True)
class ImagePart:
    """An image: inline (``media_type`` and base64 ``data``) or by http(s) ``url``."""

    path: str  # where it was in the request, for a provider's refusal
    url: str | None = None
    media_type: str | None = None
    data: str | None = None
    detail: str | None = None
    cache_control: Any = None


@dataclass(slots=True)
class FilePart:
    """A document: inline (``media_type`` and base64 ``data``) or an OpenAI file id."""

    path: str
    media_type: str | None = None
    data: str | None = None
    file_id: str | None = None
    filename: str | None = None
    cache_control: Any = None


@dataclass(slots=True)
class AudioPart:
    """``input_audio`` as sent (checked by the providers that take audio)."""

    path: str
    data: Any = None
    format: Any = None


@dataclass(slots=True)
class RefusalPart:
    refusal: str


@dataclass(slots=True)
class OtherPart:
    """A part type this gateway does not know: every provider refuses it, naming ``path``."""

    path: str
    type: Any


Part = TextPart | ImagePart | FilePart | AudioPart | RefusalPart | OtherPart


@dataclass(slots=True)
class ToolCall:
    id: str
    name: str
    arguments: Mapping[str, Any]  # the JSON object parsed from function.arguments
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # other keys of the call, e.g. extra_content


@dataclass(slots=True)
class Message:
    """One message. ``content`` is a string when the client sent one, else parts
    (None when absent). ``tool_calls`` for assistants, ``tool_call_id`` for tools."""

    role: str
    path: str
    content: str | tuple[Part, ...] | None
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(slots=True)
class Tool:
    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    strict: bool | None = None
    cache_control: Any = None


@dataclass(slots=True)
class ToolChoice:
    """``auto``, ``required``, ``none``, or ``function`` with the function's ``name``."""

    mode: str
    name: str | None = None


@dataclass(slots=True)
class ChatRequest:
    messages: tuple[Message, ...]
    model: str | None = None
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool | None = None
    response_format: Any = None
    max_tokens: int | None = None  # max_completion_tokens, else the older max_tokens
    max_tokens_field: str | None = None  # which of the two the client sent
    temperature: Any = None
    top_p: Any = None
    top_k: Any = None
    stop: tuple[str, ...] = ()
    seed: int | None = None
    n: int | None = None
    reasoning_effort: str | None = None
    thinking: Any = None
    user: str | None = None
    stream: bool = False
    include_usage: bool = False
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)  # fields not read above, as sent


_KNOWN = frozenset(
    {
        "messages", "model", "tools", "tool_choice", "parallel_tool_calls", "response_format",
        "max_completion_tokens", "max_tokens", "temperature", "top_p", "top_k", "stop", "seed", "n",
        "reasoning_effort", "thinking", "user", "stream", "stream_options",
    }
)


def fail(message: str, param: str, code: str) -> BadRequest:
    return BadRequest(f"{param}: {message}", code=code, param=param)


def parse_chat_request(body: Mapping[str, Any]) -> ChatRequest:
    """The client's chat-completions JSON object → a :class:`ChatRequest`, or a 400."""
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        raise fail("must be a string", "model", "invalid_value")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise fail("must be a non-empty list", "messages", "invalid_messages")
    paths = _MESSAGE_PATHS if len(raw_messages) <= len(_MESSAGE_PATHS) else _message_paths(len(raw_messages))
    messages = tuple([_message(message, path) for message, path in zip(raw_messages, paths, strict=False)])
    raw_tools = body.get("tools")
    if raw_tools is not None and not isinstance(raw_tools, list):
        raise fail("must be a list of {type: function, function: {name, ...}}", "tools", "invalid_tools")
    tools = tuple([_tool(tool, f"tools[{i}]") for i, tool in enumerate(raw_tools)]) if raw_tools else ()
    max_tokens, max_tokens_field = _max_tokens(body)
    stream_options = body.get("stream_options")
    parallel_tool_calls = body.get("parallel_tool_calls")
    reasoning_effort = body.get("reasoning_effort")
    user = body.get("user")
    if body.keys() <= _KNOWN:  # the common case: no field left over, no dict built
        extra = _EMPTY
    else:
        extra = MappingProxyType({key: value for key, value in body.items() if key not in _KNOWN})
    return ChatRequest(
        messages,
        model or None,
        tools,
        _tool_choice(body.get("tool_choice")),
        parallel_tool_calls if type(parallel_tool_calls) is bool else None,
        body.get("response_format"),
        max_tokens,
        max_tokens_field,
        body.get("temperature"),
        body.get("top_p"),
        body.get("top_k"),
        _stop(body.get("stop")),
        _integer(body, "seed"),
        _integer(body, "n"),
        reasoning_effort if type(reasoning_effort) is str else None,
        body.get("thinking"),
        user if type(user) is str else None,
        body.get("stream") is True,
        type(stream_options) is dict and stream_options.get("include_usage") is True,
        extra,
    )


# Each message's path, written once (a message keeps it for a provider's refusals).
def _message_paths(count: int) -> tuple[str, ...]:
    return tuple([f"messages[{i}]" for i in range(count)])


_MESSAGE_PATHS = _message_paths(256)


def _integer(body: Mapping[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise fail("must be an integer", key, "invalid_value")
    return value


def _max_tokens(body: Mapping[str, Any]) -> tuple[int | None, str | None]:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise fail("must be a positive integer", key, "invalid_value")
            return value, key
    return None, None


def _stop(stop: Any) -> tuple[str, ...]:
    if stop is None:
        return ()
    if isinstance(stop, str):
        return (stop,)
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise fail("must be a string or a list of strings", "stop", "invalid_value")


_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})


def _message(message: Any, path: str) -> Message:
    if not isinstance(message, dict):
        raise fail("must be an object", path, "invalid_messages")
    role = message.get("role")
    if type(role) is not str or role not in _ROLES:
        raise BadRequest(
            f"{path}.role: {role!r} is not supported (system, developer, user, assistant, tool)",
            code="invalid_messages",
            param=f"{path}.role",
        )
    content = message.get("content")
    if content is not None and type(content) is not str:
        content = _content(content, f"{path}.content")
    name = message.get("name")
    if name is not None and type(name) is not str:
        name = None
    if role == "assistant":
        raw_calls = message.get("tool_calls")
        if not raw_calls:
            return Message(role, path, content, (), None, name)
        if not isinstance(raw_calls, list | tuple):
            raise fail("must be a list", f"{path}.tool_calls", "invalid_tool_call")
        tool_calls = tuple([_tool_call(call, f"{path}.tool_calls[{k}]") for k, call in enumerate(raw_calls)])
        return Message(role, path, content, tool_calls, None, name)
    if role == "tool":
        tool_call_id = message.get("tool_call_id")
        if not isinstance(tool_call_id, str) or not tool_call_id:
            raise fail("required for role tool", f"{path}.tool_call_id", "invalid_messages")
        return Message(role, path, content, (), tool_call_id, name)
    return Message(role, path, content, (), None, name)


def _content(content: Any, path: str) -> str | tuple[Part, ...] | None:
    if content is None or isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise fail("must be a string, a list of content parts or null", path, "invalid_content")
    parts: list[Part] = []
    for j, part in enumerate(content):
        # Text parts, the common case, without building the part's path.
        if type(part) is dict and part.get("type") == "text" and type(text := part.get("text")) is str:
            parts.append(TextPart(text, part.get("cache_control")))
        else:
            parts.append(_part(part, f"{path}[{j}]"))
    return tuple(parts)


def _part(part: Any, path: str) -> Part:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text":
        if not isinstance(part.get("text"), str):
            raise fail("must be a string", f"{path}.text", "invalid_content")
        return TextPart(part["text"], part.get("cache_control"))
    if kind == "image_url":
        return _image(part, path)
    if kind == "file":
        return _file(part, path)
    if kind == "input_audio":
        audio = part.get("input_audio")
        audio = audio if isinstance(audio, dict) else {}
        return AudioPart(path, audio.get("data"), audio.get("format"))
    if kind == "refusal" and isinstance(part.get("refusal"), str):
        return RefusalPart(part["refusal"])
    return OtherPart(path, kind)


def _image(part: dict[str, Any], path: str) -> ImagePart:
    image_url = part.get("image_url")
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    param = f"{path}.image_url.url"
    if not isinstance(url, str):
        raise fail("required", param, "invalid_image")
    detail = image_url.get("detail") if isinstance(image_url, dict) else None
    cache_control = part.get("cache_control")
    if url.startswith(("https://", "http://")):
        return ImagePart(path, url=url, detail=detail, cache_control=cache_control)
    media_type, data = data_url(url, param, "invalid_image", _DATA_URL + " or an http(s) URL")
    return ImagePart(path, media_type=media_type, data=data, detail=detail, cache_control=cache_control)


def _file(part: dict[str, Any], path: str) -> FilePart:
    file = part.get("file")
    if not isinstance(file, dict):
        raise fail("must be an object with file_data (a data: URL) or file_id", f"{path}.file", "invalid_file")
    filename = file.get("filename") if isinstance(file.get("filename"), str) else None
    data = file.get("file_data")
    if isinstance(data, str):
        media_type, payload = data_url(data, f"{path}.file.file_data", "invalid_file")
        return FilePart(path, media_type=media_type, data=payload, filename=filename, cache_control=part.get("cache_control"))
    file_id = file.get("file_id")
    if isinstance(file_id, str) and file_id:
        return FilePart(path, file_id=file_id, filename=filename)
    raise fail("must have file_data (a data: URL) or file_id", f"{path}.file", "invalid_file")


def _tool_call(call: Any, path: str) -> ToolCall:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not call.get("id"):
        raise fail("needs id and function.name", path, "invalid_tool_call")
    raw = function.get("arguments")
    try:  # the common case first; the shared reader names the field when it is wrong
        arguments = orjson.loads(raw) if type(raw) is str and raw else None
    except orjson.JSONDecodeError:
        arguments = None
    if type(arguments) is not dict:
        arguments = tool_call_input(raw, f"{path}.function.arguments", "invalid_tool_call")
    if call.keys() <= _CALL_KEYS:
        return ToolCall(str(call["id"]), function["name"], arguments, _EMPTY)
    extra = {key: value for key, value in call.items() if key not in _CALL_KEYS}
    return ToolCall(str(call["id"]), function["name"], arguments, MappingProxyType(extra))


_CALL_KEYS = frozenset({"id", "type", "function"})


def _tool(tool: Any, path: str) -> Tool:
    function = tool.get("function") if isinstance(tool, dict) and tool.get("type", "function") == "function" else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise BadRequest(f"{path}: must be {{type: function, function: {{name, ...}}}}", code="invalid_tools", param=path)
    parameters = function.get("parameters")
    if parameters is not None and not isinstance(parameters, dict):
        raise fail("must be a JSON schema object", f"{path}.function.parameters", "invalid_tools")
    description = function.get("description")
    strict = function.get("strict")
    return Tool(
        function["name"],
        description if isinstance(description, str) else None,
        parameters,
        strict if isinstance(strict, bool) else None,
        tool.get("cache_control"),
    )


def _tool_choice(choice: Any) -> ToolChoice | None:
    if choice is None:
        return None
    if choice in ("auto", "required", "none"):
        return ToolChoice(choice)
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            return ToolChoice("function", name)
    raise BadRequest(
        "tool_choice: must be auto, required, none or {type: function, function: {name}}",
        code="invalid_tool_choice",
        param="tool_choice",
    )
