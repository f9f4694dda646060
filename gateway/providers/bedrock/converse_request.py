"""OpenAI chat completions request → Bedrock Converse request.

* ``system`` / ``developer`` messages → top-level ``system`` text blocks;
* user and assistant content (a string or parts) → ``text``, ``image`` and (from
  ``file`` parts) ``document`` blocks — inline data URLs only: Converse takes bytes,
  not links or OpenAI file ids;
* assistant ``tool_calls`` → ``toolUse`` blocks (arguments parsed from their JSON string);
* ``tool`` messages → ``toolResult`` blocks in a user turn; consecutive ones, and a user
  message right after them, share one turn, since Converse roles must alternate;
* ``max_completion_tokens``/``max_tokens``, ``temperature``, ``top_p``, ``stop`` →
  ``inferenceConfig``; ``tools``/``tool_choice`` → ``toolConfig``; ``top_k`` and
  ``thinking`` → ``additionalModelRequestFields`` (model-specific, passed as given).

Content parts (and tools) carrying Anthropic's ``cache_control`` marker, as Portkey
accepts them, are followed by a Converse ``cachePoint``.

``tool_choice: "none"`` has no Converse equivalent, and a toolConfig always lets the
model call a tool: the tools are left out, and the conversation's earlier tool calls
and results go as text (``blocks.tool_blocks_as_text``), so the model cannot call one.

``response_format`` (``json_object``, ``json_schema``) → a forced answer tool
(``gateway.translate.response_format``); the answer translators turn its input back
into the message content.
"""

from __future__ import annotations

from typing import Any

from ...translate.chat_parts import tool_call_input
from ...translate.response_format import answer_tool
from .blocks import (
    cache_point,
    converse_request,
    data_url_image,
    data_url_parts,
    document_block,
    fail,
    inference_config,
    tool_spec,
)


def chat_to_converse(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail("messages: must be a non-empty list", "messages")
    if body.get("n") not in (None, 1):
        raise fail("n: bedrock returns one choice per request", "n")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        if not isinstance(message, dict):
            raise fail(f"{param}: must be an object", param)
        role = message.get("role")
        if role in ("system", "developer"):
            system.extend(_system(message.get("content"), param))
        elif role == "user":
            turns.append({"role": "user", "content": _content(message.get("content"), param)})
        elif role == "assistant":
            turns.append({"role": "assistant", "content": _assistant(message, param)})
        elif role == "tool":
            turns.append({"role": "user", "content": [_tool_result(message, param)]})
        else:
            raise fail(f"{param}.role: {role!r} is not supported (system, developer, user, assistant, tool)", param)
    inference = inference_config(
        body.get("max_completion_tokens", body.get("max_tokens")),
        body.get("temperature"),
        body.get("top_p"),
        body.get("stop"),
    )
    return converse_request(turns, system, inference, body, _tool_config)


def _system(content: Any, param: str) -> list[dict[str, Any]]:
    texts = _texts(content, param)  # refuses anything but text
    if not isinstance(content, list):
        return [{"text": text} for text in texts if text]
    blocks = []
    for part in content:
        if part.get("text"):
            blocks += [{"text": part["text"]}, *cache_point(part)]
    return blocks


def _texts(content: Any, param: str) -> list[str]:
    if isinstance(content, str):
        return [content]
    if isinstance(content, list):
        texts = []
        for index, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text":
                raise fail(f"{param}.content[{index}]: only text parts are allowed here", param)
            texts.append(part.get("text") or "")
        return texts
    if content is None:
        return []
    raise fail(f"{param}.content: must be a string or a list of parts", param)


def _content(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        if content is None:
            return []
        raise fail(f"{param}.content: must be a string or a list of parts", param)
    blocks = []
    for index, part in enumerate(content):
        part_param = f"{param}.content[{index}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text":
            if part.get("text"):
                blocks += [{"text": part["text"]}, *cache_point(part)]
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if not isinstance(url, str):
                raise fail(f"{part_param}.image_url.url: must be a string", part_param)
            blocks.append(data_url_image(url, part_param))
        elif kind == "file":
            blocks.append(_document(part.get("file"), part_param))
        else:
            raise fail(f"{part_param}: part type {kind!r} is not supported by bedrock (text, image_url, file)", part_param)
    return blocks


def _document(file: Any, param: str) -> dict[str, Any]:
    data_url = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data_url, str):
        raise fail(f"{param}.file: bedrock needs the document inline as file_data (a data URL), not a file id", param)
    media_type, data = data_url_parts(data_url, param)
    return document_block(media_type, data, file.get("filename"), param)


def _assistant(message: dict[str, Any], param: str) -> list[dict[str, Any]]:
    blocks = _content(message.get("content"), param)
    for index, call in enumerate(message.get("tool_calls") or ()):
        call_param = f"{param}.tool_calls[{index}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not call.get("id") or not function.get("name"):
            raise fail(f"{call_param}: needs an id and a function with a name", call_param)
        parsed = tool_call_input(function.get("arguments"), f"{call_param}.function.arguments", "invalid_request_for_bedrock")
        blocks.append({"toolUse": {"toolUseId": call["id"], "name": function.get("name"), "input": parsed}})
    return blocks


def _tool_result(message: dict[str, Any], param: str) -> dict[str, Any]:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise fail(f"{param}.tool_call_id: required for a tool message", param)
    content = [{"text": text} for text in _texts(message.get("content"), param) if text]
    # Converse refuses an empty result; an empty string is what the tool returned.
    return {"toolResult": {"toolUseId": call_id, "content": content or [{"text": ""}]}}


def _tool_config(body: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any] | None:
    tools = body.get("tools") or []
    choice = body.get("tool_choice")
    specs = []
    for index, tool in enumerate(tools):
        param = f"tools[{index}]"
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict):
            raise fail(f"{param}: bedrock supports function tools only", param)
        specs += [tool_spec(function.get("name"), function.get("description"), function.get("parameters"), param), *cache_point(tool)]
    config: dict[str, Any] = {"tools": specs}
    answer = answer_tool(body, "bedrock")
    if answer is not None:
        specs.append(tool_spec(answer.name, answer.description, answer.schema, "response_format"))
        config["toolChoice"] = {"tool": {"name": answer.name}} if answer.forced else {"any": {}}
        return config
    if not tools or choice == "none":
        return None
    if choice == "required":
        config["toolChoice"] = {"any": {}}
    elif choice == "auto":
        config["toolChoice"] = {"auto": {}}
    elif isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name")
        if not name:
            raise fail("tool_choice.function.name: required", "tool_choice")
        config["toolChoice"] = {"tool": {"name": name}}
    elif choice is not None:
        raise fail(f"tool_choice: {choice!r} is not supported (auto, required, none, or a named function)", "tool_choice")
    return config
