"""The typed chat request → an OpenAI chat-completions body, for OpenAI-compatible
upstreams of a client that spoke another protocol (``/v1/messages``).

Written for the widest set of OpenAI-compatible servers, since the body is the
gateway's, not the client's:

* content that is only text goes as one string (some servers take no part lists);
  images as ``image_url`` parts (a ``data:`` URL or the URL given), PDFs as ``file``
  parts; any other part is a 400 naming where it was;
* a provider's :class:`ChatDialect` says how it names the token limit
  (``max_tokens``, or ``max_completion_tokens``, which OpenAI's reasoning models
  require and Mistral refuses), whether it takes ``stream_options`` (a stream's
  usage; Mistral refuses the field and sends usage anyway) and ``user``;
* ``top_k`` and Anthropic-style ``thinking`` have no OpenAI field and are not sent
  (a ``reasoning_effort`` is, when the request has one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import BadRequest
from .chat_request import ChatRequest, FilePart, ImagePart, Message, Part, TextPart


@dataclass(frozen=True)
class ChatDialect:
    max_tokens_field: str = "max_tokens"
    stream_options: bool = True
    user: bool = True


DEFAULT_DIALECT = ChatDialect()


def to_openai_chat(request: ChatRequest, dialect: ChatDialect = DEFAULT_DIALECT) -> dict[str, Any]:
    out: dict[str, Any] = {"model": request.model, "messages": [_message(message) for message in request.messages]}
    if request.max_tokens is not None:
        out[dialect.max_tokens_field] = request.max_tokens
    for name in ("temperature", "top_p"):
        value = getattr(request, name)
        if value is not None:
            out[name] = value
    if request.stop:
        out["stop"] = list(request.stop)
    if request.tools:
        out["tools"] = [
            {
                "type": "function",
                "function": {
                    "name": tool.name,
                    **({"description": tool.description} if tool.description else {}),
                    "parameters": tool.parameters if tool.parameters is not None else {"type": "object", "properties": {}},
                },
            }
            for tool in request.tools
        ]
        if request.parallel_tool_calls is not None:
            out["parallel_tool_calls"] = request.parallel_tool_calls
    choice = request.tool_choice
    if choice is not None:
        out["tool_choice"] = {"type": "function", "function": {"name": choice.name}} if choice.mode == "function" else choice.mode
    if request.response_format is not None:
        out["response_format"] = request.response_format
    if request.reasoning_effort is not None:
        out["reasoning_effort"] = request.reasoning_effort
    if request.user is not None and dialect.user:
        out["user"] = request.user
    if request.stream:
        out["stream"] = True
        if request.include_usage and dialect.stream_options:
            out["stream_options"] = {"include_usage": True}
    return out


def _message(message: Message) -> dict[str, Any]:
    role = message.role
    if role == "tool":
        return {"role": "tool", "tool_call_id": message.tool_call_id, "content": _content(message.content) or ""}
    out: dict[str, Any] = {"role": role, "content": _content(message.content)}
    if message.tool_calls:
        out["tool_calls"] = [
            {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()}}
            for call in message.tool_calls
        ]
    return out


def _content(content: str | tuple[Part, ...] | None) -> str | list[dict[str, Any]] | None:
    if content is None or isinstance(content, str):
        return content
    if all(type(part) is TextPart for part in content):
        return "\n".join(part.text for part in content)
    return [_part(part) for part in content]


def _part(part: Part) -> dict[str, Any]:
    kind = type(part)
    if kind is TextPart:
        return {"type": "text", "text": part.text}
    if kind is ImagePart:
        url = part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"
        return {"type": "image_url", "image_url": {"url": url}}
    if kind is FilePart and part.data is not None:
        file = {"file_data": f"data:{part.media_type};base64,{part.data}"}
        if part.filename:
            file["filename"] = part.filename
        return {"type": "file", "file": file}
    path = getattr(part, "path", "messages")
    raise BadRequest(f"{path}: this content cannot be sent to an OpenAI-compatible provider", code="invalid_content", param=path)
