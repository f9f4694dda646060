"""OpenAI chat request → Cohere v2 ``POST /v2/chat`` request (pure).

* ``system`` / ``developer`` → role ``system``; ``user`` → ``user`` (a string, or
  ``text`` and ``image_url`` parts); ``assistant`` → ``assistant`` with ``tool_calls``
  (arguments kept as the JSON string Cohere also takes) and, beside calls, its text as
  ``tool_plan``; ``tool`` → ``tool`` with ``tool_call_id``.
* ``tools`` pass as they are (Cohere v2 takes OpenAI's function shape); any
  ``strict: true`` turns on ``strict_tools``. ``tool_choice``: ``required`` →
  ``REQUIRED``, ``none`` → ``NONE``, ``auto`` → Cohere's default; a named function (which
  Cohere cannot name) → only that tool, ``REQUIRED``.
* ``max_tokens`` / ``max_completion_tokens``, ``temperature``, ``top_p`` → ``p``,
  ``top_k`` → ``k``, ``stop`` → ``stop_sequences``, ``seed``, penalties, ``stream``;
  ``response_format`` ``json_object`` / ``json_schema`` → ``{"type": "json_object",
  "json_schema"?}``. ``n`` > 1 is a 400 (one answer per call).
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest

_PASSED = (
    ("temperature", "temperature"),
    ("top_p", "p"),
    ("top_k", "k"),
    ("seed", "seed"),
    ("frequency_penalty", "frequency_penalty"),
    ("presence_penalty", "presence_penalty"),
)


def to_chat_request(body: dict[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest(
            "model: required, the Cohere model to call (e.g. command-a-03-2025)", code="missing_model", param="model"
        )
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: must be a non-empty list", code="invalid_messages", param="messages")
    if body.get("n", 1) not in (1, None):
        raise BadRequest("n: Cohere returns one answer per request; use n=1", code="unsupported_parameter", param="n")
    out: dict[str, Any] = {
        "model": model.strip(),
        "messages": [_message(m, f"messages[{i}]") for i, m in enumerate(messages)],
    }
    for name, cohere_name in _PASSED:
        if body.get(name) is not None:
            out[cohere_name] = body[name]
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    if max_tokens is not None:
        out["max_tokens"] = max_tokens
    stop = body.get("stop")
    if stop is not None:
        out["stop_sequences"] = [stop] if isinstance(stop, str) else stop
    if body.get("stream") is True:
        out["stream"] = True
    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list) or not all(_is_function_tool(t) for t in tools):
            raise BadRequest(
                "tools: each must be {type: function, function: {name, ...}}", code="invalid_tools", param="tools"
            )
        out["tools"] = [
            {"type": "function", "function": {k: v for k, v in t["function"].items() if k != "strict"}} for t in tools
        ]
        if any(t["function"].get("strict") for t in tools):
            out["strict_tools"] = True
    _tool_choice(body.get("tool_choice"), out)
    response_format = _response_format(body.get("response_format"))
    if response_format is not None:
        out["response_format"] = response_format
    return out


def _is_function_tool(tool: Any) -> bool:
    return (
        isinstance(tool, dict)
        and tool.get("type", "function") == "function"
        and isinstance(tool.get("function"), dict)
        and isinstance(tool["function"].get("name"), str)
    )


def _tool_choice(choice: Any, out: dict[str, Any]) -> None:
    if choice is None or choice == "auto":
        return
    if choice == "required":
        out["tool_choice"] = "REQUIRED"
    elif choice == "none":
        out["tool_choice"] = "NONE"
    elif isinstance(choice, dict) and isinstance((choice.get("function") or {}).get("name"), str):
        name = choice["function"]["name"]
        chosen = [t for t in out.get("tools", ()) if t["function"]["name"] == name]
        if not chosen:
            raise BadRequest(
                f"tool_choice: names {name!r}, which is not in tools", code="invalid_tool_choice", param="tool_choice"
            )
        out["tools"], out["tool_choice"] = chosen, "REQUIRED"
    else:
        raise BadRequest(
            "tool_choice: must be auto, required, none or a named function",
            code="invalid_tool_choice",
            param="tool_choice",
        )


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


def _message(message: Any, path: str) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise BadRequest(f"{path}: must be an object", code="invalid_messages", param=path)
    role = message.get("role")
    if role in ("system", "developer"):
        return {"role": "system", "content": _text(message.get("content"), f"{path}.content")}
    if role == "user":
        return {"role": "user", "content": _user_content(message.get("content"), f"{path}.content")}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        content = message.get("content")
        text = _text(content, f"{path}.content") if content not in (None, "", []) else ""
        calls = message.get("tool_calls")
        if calls:
            out["tool_calls"] = [_tool_call(call, f"{path}.tool_calls[{i}]") for i, call in enumerate(calls)]
            if text:
                out["tool_plan"] = text
        elif text:
            out["content"] = text
        else:
            raise BadRequest(
                f"{path}: an assistant message needs content or tool_calls", code="invalid_messages", param=path
            )
        return out
    if role == "tool":
        call_id = message.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            raise BadRequest(f"{path}.tool_call_id: required", code="invalid_messages", param=f"{path}.tool_call_id")
        return {"role": "tool", "tool_call_id": call_id, "content": _text(message.get("content"), f"{path}.content")}
    raise BadRequest(
        f"{path}.role: {role!r} is not system, developer, user, assistant or tool",
        code="invalid_messages",
        param=f"{path}.role",
    )


def _text(content: Any, path: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(
        isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in content
    ):
        return "".join(p["text"] for p in content)
    raise BadRequest(f"{path}: must be a string or a list of text parts", code="invalid_content", param=path)


def _user_content(content: Any, path: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list) or not content:
        raise BadRequest(f"{path}: must be a string or a non-empty list of parts", code="invalid_content", param=path)
    parts = []
    for i, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "image_url" and isinstance((part.get("image_url") or {}).get("url"), str):
            parts.append({"type": "image_url", "image_url": {"url": part["image_url"]["url"]}})
        else:
            raise BadRequest(
                f"{path}[{i}]: cohere takes text and image_url parts", code="unsupported_content", param=f"{path}[{i}]"
            )
    return parts


def _tool_call(call: Any, path: str) -> dict[str, Any]:
    function = call.get("function") if isinstance(call, dict) else None
    if (
        not isinstance(function, dict)
        or not isinstance(function.get("name"), str)
        or not isinstance(call.get("id"), str)
    ):
        raise BadRequest(f"{path}: needs id and function.name", code="invalid_tool_calls", param=path)
    arguments = function.get("arguments")
    return {
        "id": call["id"],
        "type": "function",
        "function": {
            "name": function["name"],
            "arguments": arguments if isinstance(arguments, str) and arguments else "{}",
        },
    }
