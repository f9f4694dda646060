"""OpenAI chat-completions request → Anthropic Messages request (pure).

What maps where:

* ``system`` and ``developer`` messages → the top-level ``system`` (a string for one
  plain string, else text blocks, which keep any ``cache_control``).
* ``user`` / ``assistant`` content, string or parts: ``text``, ``image_url`` (a
  ``data:`` URL → a base64 image source, an http(s) URL → a url source), ``file``
  with ``file_data`` (a PDF as a data URL → a base64 ``document`` block).
* assistant ``tool_calls`` → ``tool_use`` blocks (arguments parsed from their JSON
  string); ``role: tool`` → ``tool_result`` blocks. Consecutive turns of one role are
  merged, so that the tool results answering one assistant turn form one user turn.
* ``tools``, ``tool_choice`` (auto / required → any / none / a named function → tool),
  ``parallel_tool_calls: false`` → ``disable_parallel_tool_use``.
* ``stop`` → ``stop_sequences``; ``user`` → ``metadata.user_id``; ``temperature``,
  ``top_p``, ``top_k``, ``thinking``, ``stream`` as they are.
* ``max_completion_tokens`` (or the older ``max_tokens``) → ``max_tokens``, which
  Anthropic requires. When the client sends neither, :data:`DEFAULT_MAX_TOKENS` is
  used (plus the thinking budget when extended thinking is on, which must fit inside).

* ``response_format`` (``json_object``, ``json_schema``) → a forced answer tool
  (``gateway.translate.response_format``), whose input the response translators turn
  back into the message content.

Empty turns (an assistant message with ``content: ""`` and no tool calls, a user
message of empty text) are left out, and the turns around them merged, as the
Bedrock translation does: Anthropic refuses empty content with a 400.

OpenAI-only parameters with no Anthropic counterpart (``seed``, ``logprobs``,
penalties, ...) are dropped; ``n`` other than 1 is refused, as Anthropic gives one
answer per call.
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest
from ...translate.chat_parts import data_url, tool_call_input
from ...translate.response_format import AnswerTool, answer_tool

# Used when the client sends no max_tokens / max_completion_tokens: long enough for
# ordinary answers, and accepted by every current Claude model.
DEFAULT_MAX_TOKENS = 4096

_PASSED_THROUGH = ("temperature", "top_p", "top_k", "thinking", "stream")


def to_messages_request(body: dict[str, Any]) -> dict[str, Any]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise BadRequest("model: required, the Claude model to call", code="missing_model", param="model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: must be a non-empty list", code="invalid_messages", param="messages")
    if body.get("n", 1) not in (1, None):
        raise BadRequest("n: Anthropic returns one choice per request; use n=1", code="unsupported_parameter", param="n")

    system, turns = _messages(messages)
    out: dict[str, Any] = {"model": model, "messages": turns, "max_tokens": _max_tokens(body)}
    if system:
        out["system"] = system[0]["text"] if len(system) == 1 and system[0].keys() == {"type", "text"} else system
    for key in _PASSED_THROUGH:
        if body.get(key) is not None:
            out[key] = body[key]
    stop = body.get("stop")
    if isinstance(stop, str):
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if stop:
            out["stop_sequences"] = stop
    elif stop is not None:
        raise BadRequest("stop: must be a string or a list of strings", code="invalid_value", param="stop")
    if isinstance(body.get("user"), str):
        out["metadata"] = {"user_id": body["user"]}
    if body.get("tools"):
        out["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(body["tools"])]
    tool_choice = _tool_choice(body.get("tool_choice"))
    if body.get("parallel_tool_calls") is False and body.get("tools"):
        tool_choice = tool_choice or {"type": "auto"}
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True
    answer = answer_tool(body, "anthropic")
    if answer is not None:
        tool_choice = _answer_through(answer, out, tool_choice)
    if tool_choice is not None:
        out["tool_choice"] = tool_choice
    return out


def _answer_through(answer: AnswerTool, out: dict[str, Any], tool_choice: dict | None) -> dict:
    """Declare the answer tool and make the model call it (or one of the client's)."""
    out["tools"] = [*out.get("tools", ()), {"name": answer.name, "description": answer.description, "input_schema": answer.schema}]
    if answer.forced:
        # One call: the answer is that call's input, never two concatenated.
        return {"type": "tool", "name": answer.name, "disable_parallel_tool_use": True}
    choice = {"type": "any"}
    if tool_choice and tool_choice.get("disable_parallel_tool_use"):
        choice["disable_parallel_tool_use"] = True
    return choice


def _max_tokens(body: dict[str, Any]) -> int:
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadRequest(f"{key}: must be a positive integer", code="invalid_value", param=key)
            return value
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int):
        return DEFAULT_MAX_TOKENS + thinking["budget_tokens"]
    return DEFAULT_MAX_TOKENS


def _messages(messages: list[Any]) -> tuple[list[dict], list[dict]]:
    system: list[dict] = []
    turns: list[dict] = []
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise BadRequest(f"{path}: must be an object", code="invalid_messages", param=path)
        role = message.get("role")
        if role in ("system", "developer"):
            system += _text_blocks(message.get("content"), f"{path}.content")
            continue
        if role == "user":
            blocks = _user_blocks(message.get("content"), f"{path}.content")
        elif role == "assistant":
            blocks = _assistant_blocks(message, path)
        elif role == "tool":
            blocks = [_tool_result(message, path)]
            role = "user"
        else:
            raise BadRequest(
                f"{path}.role: {role!r} is not supported (system, developer, user, assistant, tool)",
                code="invalid_messages",
                param=f"{path}.role",
            )
        if not blocks:
            continue  # Anthropic refuses an empty turn; its neighbours merge instead
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"] += blocks
        else:
            turns.append({"role": role, "content": blocks})
    for turn in turns:
        # The common one-string turn stays a plain string, as a client would write it.
        content = turn["content"]
        if len(content) == 1 and content[0].keys() == {"type", "text"}:
            turn["content"] = content[0]["text"]
    return system, turns


def _text_blocks(content: Any, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{path}: must be a string or a list of text parts", code="invalid_content", param=path)
    blocks = []
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise BadRequest(f"{path}[{j}]: only text parts are allowed here", code="invalid_content", param=f"{path}[{j}]")
        blocks.append(_text(part))
    return blocks


def _text(part: dict) -> dict:
    block = {"type": "text", "text": part["text"]}
    if "cache_control" in part:
        block["cache_control"] = part["cache_control"]
    return block


def _user_blocks(content: Any, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{path}: must be a string or a list of content parts", code="invalid_content", param=path)
    blocks = []
    for j, part in enumerate(content):
        part_path = f"{path}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            if part["text"]:  # an empty text block is a 400 at Anthropic
                blocks.append(_text(part))
        elif kind == "image_url":
            blocks.append(_image(part.get("image_url"), part_path))
        elif kind == "file":
            blocks.append(_document(part.get("file"), part_path))
        else:
            raise BadRequest(
                f"{part_path}: content part type {kind!r} is not supported by anthropic (text, image_url, file)",
                code="invalid_content",
                param=part_path,
            )
    return blocks


def _image(image_url: Any, path: str) -> dict:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str):
        raise BadRequest(f"{path}.image_url.url: required", code="invalid_image", param=f"{path}.image_url")
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    source = _base64_source(url, f"{path}.image_url", "invalid_image", _DATA_URL + " or an http(s) URL")
    return {"type": "image", "source": source}


def _document(file: Any, path: str) -> dict:
    data = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data, str):
        raise BadRequest(
            f"{path}.file.file_data: required (a data: URL); OpenAI file ids mean nothing to anthropic",
            code="invalid_file",
            param=f"{path}.file",
        )
    return {"type": "document", "source": _base64_source(data, f"{path}.file", "invalid_file")}


_DATA_URL = "a data:<media type>;base64,<data> URL"


def _base64_source(url: str, param: str, code: str, accepted: str = _DATA_URL) -> dict:
    """``data:<media type>[;params];base64,<data>`` → a base64 source block."""
    media_type, data = data_url(url, param, code, accepted)
    return {"type": "base64", "media_type": media_type, "data": data}


def _assistant_blocks(message: dict, path: str) -> list[dict]:
    content = message.get("content")
    blocks: list[dict] = []
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    elif isinstance(content, list):
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and part.get("text"):
                blocks.append(_text(part))
            elif kind == "refusal" and part.get("refusal"):
                blocks.append({"type": "text", "text": part["refusal"]})
            elif kind not in ("text", "refusal"):
                raise BadRequest(
                    f"{path}.content[{j}]: assistant content parts must be text",
                    code="invalid_content",
                    param=f"{path}.content[{j}]",
                )
    elif content is not None:
        raise BadRequest(f"{path}.content: must be a string, a list or null", code="invalid_content", param=f"{path}.content")
    for k, call in enumerate(message.get("tool_calls") or []):
        blocks.append(_tool_use(call, f"{path}.tool_calls[{k}]"))
    return blocks


def _tool_use(call: Any, path: str) -> dict:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not call.get("id"):
        raise BadRequest(f"{path}: needs id and function.name", code="invalid_tool_call", param=path)
    parsed = tool_call_input(function.get("arguments"), f"{path}.function.arguments", "invalid_tool_call")
    return {"type": "tool_use", "id": call["id"], "name": function["name"], "input": parsed}


def _tool_result(message: dict, path: str) -> dict:
    tool_call_id = message.get("tool_call_id")
    if not isinstance(tool_call_id, str) or not tool_call_id:
        raise BadRequest(f"{path}.tool_call_id: required for role tool", code="invalid_messages", param=f"{path}.tool_call_id")
    content = message.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_call_id}
    if isinstance(content, str):
        result["content"] = content
    else:
        result["content"] = _text_blocks(content, f"{path}.content")
    return result


def _tool(tool: Any, path: str) -> dict:
    function = tool.get("function") if isinstance(tool, dict) and tool.get("type", "function") == "function" else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise BadRequest(f"{path}: must be {{type: function, function: {{name, ...}}}}", code="invalid_tools", param=path)
    out: dict[str, Any] = {
        "name": function["name"],
        "input_schema": function.get("parameters") or {"type": "object", "properties": {}},
    }
    if function.get("description"):
        out["description"] = function["description"]
    if "cache_control" in tool:
        out["cache_control"] = tool["cache_control"]
    return out


def _tool_choice(choice: Any) -> dict | None:
    if choice is None:
        return None
    if choice == "auto":
        return {"type": "auto"}
    if choice == "required":
        return {"type": "any"}
    if choice == "none":
        return {"type": "none"}
    if isinstance(choice, dict) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if isinstance(name, str) and name:
            return {"type": "tool", "name": name}
    raise BadRequest(
        "tool_choice: must be auto, required, none or {type: function, function: {name}}",
        code="invalid_tool_choice",
        param="tool_choice",
    )
