"""OpenAI chat request (the typed :class:`ChatRequest`) → Cohere v2 ``POST /v2/chat``
request (pure).

* ``system`` / ``developer`` → role ``system``; ``user`` → ``user`` (a string, or
  ``text`` and ``image_url`` parts); ``assistant`` → ``assistant`` with ``tool_calls``
  (arguments as the JSON string Cohere also takes) and, beside calls, its text as
  ``tool_plan``; ``tool`` → ``tool`` with ``tool_call_id``.
* ``tools`` in OpenAI's function shape (Cohere v2 takes it); any ``strict: true`` turns
  on ``strict_tools``. ``tool_choice``: ``required`` → ``REQUIRED``, ``none`` → ``NONE``,
  ``auto`` → Cohere's default; a named function (which Cohere cannot name) → only that
  tool, ``REQUIRED``.
* ``max_tokens`` / ``max_completion_tokens``, ``temperature``, ``top_p`` → ``p``,
  ``top_k`` → ``k``, ``stop`` → ``stop_sequences``, ``seed``, penalties, ``stream``;
  ``response_format`` ``json_object`` / ``json_schema`` → ``{"type": "json_object",
  "json_schema"?}``. ``n`` > 1 is a 400 (one answer per call).

What is valid OpenAI is decided once, by :func:`parse_chat_request`, as for every
translating provider; this module refuses only what Cohere cannot take.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from ...errors import BadRequest
from ...translate.chat_request import ChatRequest, ImagePart, Message, TextPart, ToolCall, parse_chat_request

# Sampling fields Cohere takes that the typed request keeps in ``extra``, by Cohere's name.
_EXTRA_PASSED = (("frequency_penalty", "frequency_penalty"), ("presence_penalty", "presence_penalty"))


def _missing_model() -> BadRequest:
    return BadRequest(
        "model: required, the Cohere model to call (e.g. command-a-03-2025)", code="missing_model", param="model"
    )


def to_chat_request(body: Mapping[str, Any] | ChatRequest) -> dict[str, Any]:
    if not isinstance(body, ChatRequest):
        model = body.get("model")
        if not isinstance(model, str) or not model.strip():
            raise _missing_model()
        body = parse_chat_request(body)
    request = body
    if request.model is None or not request.model.strip():
        raise _missing_model()
    if request.n not in (1, None):
        raise BadRequest("n: Cohere returns one answer per request; use n=1", code="unsupported_parameter", param="n")
    out: dict[str, Any] = {"model": request.model.strip(), "messages": [_message(m) for m in request.messages]}
    if request.temperature is not None:
        out["temperature"] = request.temperature
    if request.top_p is not None:
        out["p"] = request.top_p
    if request.top_k is not None:
        out["k"] = request.top_k
    if request.seed is not None:
        out["seed"] = request.seed
    for name, cohere_name in _EXTRA_PASSED:
        if request.extra.get(name) is not None:
            out[cohere_name] = request.extra[name]
    if request.max_tokens is not None:
        out["max_tokens"] = request.max_tokens
    if request.stop:
        out["stop_sequences"] = list(request.stop)
    if request.stream:
        out["stream"] = True
    if request.tools:
        out["tools"] = [_tool(tool) for tool in request.tools]
        if any(tool.strict for tool in request.tools):
            out["strict_tools"] = True
    _tool_choice(request, out)
    response_format = _response_format(request.response_format)
    if response_format is not None:
        out["response_format"] = response_format
    return out


def _tool(tool) -> dict[str, Any]:
    function: dict[str, Any] = {"name": tool.name}
    if tool.description is not None:
        function["description"] = tool.description
    if tool.parameters is not None:
        function["parameters"] = tool.parameters
    return {"type": "function", "function": function}


def _tool_choice(request: ChatRequest, out: dict[str, Any]) -> None:
    choice = request.tool_choice
    if choice is None or choice.mode == "auto":
        return
    if choice.mode == "required":
        out["tool_choice"] = "REQUIRED"
    elif choice.mode == "none":
        out["tool_choice"] = "NONE"
    else:  # a named function: Cohere cannot name one, so it gets only that tool
        chosen = [tool for tool in out.get("tools", ()) if tool["function"]["name"] == choice.name]
        if not chosen:
            raise BadRequest(
                f"tool_choice: names {choice.name!r}, which is not in tools",
                code="invalid_tool_choice",
                param="tool_choice",
            )
        out["tools"], out["tool_choice"] = chosen, "REQUIRED"


def _response_format(value: Any) -> dict[str, Any] | None:
    if value is None or (isinstance(value, dict) and value.get("type") == "text"):
        return None
    if isinstance(value, dict) and value.get("type") == "json_object":
        return {"type": "json_object"}
    if (
        isinstance(value, dict)
        and value.get("type") == "json_schema"
        and isinstance((value.get("json_schema") or {}).get("schema"), dict)
    ):
        return {"type": "json_object", "json_schema": value["json_schema"]["schema"]}
    raise BadRequest(
        "response_format: must be text, json_object or json_schema with a schema",
        code="invalid_response_format",
        param="response_format",
    )


def _message(message: Message) -> dict[str, Any]:
    role, path = message.role, message.path
    if role in ("system", "developer"):
        return {"role": "system", "content": _text(message, f"{path}.content")}
    if role == "user":
        return {"role": "user", "content": _user_content(message, f"{path}.content")}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        text = _text(message, f"{path}.content") if message.content not in (None, "", ()) else ""
        if message.tool_calls:
            out["tool_calls"] = [_tool_call(call) for call in message.tool_calls]
            if text:
                out["tool_plan"] = text
        elif text:
            out["content"] = text
        else:
            raise BadRequest(
                f"{path}: an assistant message needs content or tool_calls", code="invalid_messages", param=path
            )
        return out
    # role "tool" (the parser let no other role through, and checked tool_call_id)
    return {"role": "tool", "tool_call_id": message.tool_call_id, "content": _text(message, f"{path}.content")}


def _text(message: Message, path: str) -> str:
    content = message.content
    if type(content) is str:
        return content
    if content is not None and all(type(part) is TextPart for part in content):
        return "".join(part.text for part in content)
    raise BadRequest(f"{path}: must be a string or a list of text parts", code="invalid_content", param=path)


def _user_content(message: Message, path: str) -> str | list[dict[str, Any]]:
    content = message.content
    if type(content) is str:
        return content
    if not content:
        raise BadRequest(f"{path}: must be a string or a non-empty list of parts", code="invalid_content", param=path)
    parts = []
    for i, part in enumerate(content):
        kind = type(part)
        if kind is TextPart:
            parts.append({"type": "text", "text": part.text})
        elif kind is ImagePart:
            url = part.url if part.url is not None else f"data:{part.media_type};base64,{part.data}"
            parts.append({"type": "image_url", "image_url": {"url": url}})
        else:
            raise BadRequest(
                f"{path}[{i}]: cohere takes text and image_url parts", code="unsupported_content", param=f"{path}[{i}]"
            )
    return parts


def _tool_call(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()},
    }
