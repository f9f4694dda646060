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

The request is read parsed and validated (``gateway.translate.chat_request``), as
every translating provider reads it; this module refuses what Converse cannot take
(images by URL, OpenAI file ids, audio, image and document types it does not know).

``response_format`` (``json_object``, ``json_schema``) → a forced answer tool
(``gateway.translate.response_format``); the answer translators turn its input back
into the message content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...translate.chat_request import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    Part,
    RefusalPart,
    TextPart,
    parse_chat_request,
)
from ...translate.response_format import answer_tool_for
from .blocks import (
    converse_request,
    document_block,
    fail,
    image_block,
    inference_config,
    marker_point,
    tool_spec,
)


def chat_to_converse(body: Mapping[str, Any] | ChatRequest) -> dict[str, Any]:
    request = body if isinstance(body, ChatRequest) else parse_chat_request(body)
    if request.n not in (None, 1):
        raise fail("n: bedrock returns one choice per request", "n")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    for message in request.messages:
        role = message.role
        if role in ("system", "developer"):
            system.extend(_system(message))
        elif role == "user":
            turns.append({"role": "user", "content": _content(message.content, message.path)})
        elif role == "assistant":
            turns.append({"role": "assistant", "content": _assistant(message)})
        else:  # tool
            turns.append({"role": "user", "content": [_tool_result(message)]})
    inference = inference_config(request.max_tokens, request.temperature, request.top_p, list(request.stop))
    additional = {"top_k": request.top_k, "thinking": request.thinking}
    return converse_request(turns, system, inference, additional, lambda _, merged: _tool_config(request, merged))


def _texts(message: Message) -> list[tuple[str, Any]]:
    """A system or tool message's texts, with their cache markers; anything else is a 400."""
    content = message.content
    if isinstance(content, str):
        return [(content, None)]
    if content is None:
        return []
    texts = []
    for index, part in enumerate(content):
        if not isinstance(part, TextPart):
            param = f"{message.path}.content[{index}]"
            raise fail(f"{param}: only text parts are allowed here", param)
        texts.append((part.text, part.cache_control))
    return texts


def _system(message: Message) -> list[dict[str, Any]]:
    blocks = []
    for text, marker in _texts(message):
        if text:
            blocks += [{"text": text}, *marker_point(marker)]
    return blocks


def _content(content: str | tuple[Part, ...] | None, path: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if content is None:
        return []
    blocks = []
    for index, part in enumerate(content):
        part_param = f"{path}.content[{index}]"
        if isinstance(part, TextPart):
            if part.text:
                blocks += [{"text": part.text}, *marker_point(part.cache_control)]
        elif isinstance(part, RefusalPart):
            if part.refusal:
                blocks.append({"text": part.refusal})
        elif isinstance(part, ImagePart):
            if part.data is None:
                raise fail(
                    f"{part_param}: bedrock needs images inline as data URLs (data:image/png;base64,...); "
                    "it cannot fetch image URLs",
                    part_param,
                )
            blocks.append(image_block(part.media_type or "", part.data, part_param))
        elif isinstance(part, FilePart):
            if part.data is None:
                raise fail(f"{part_param}.file: bedrock needs the document inline as file_data (a data URL), not a file id", part_param)
            blocks.append(document_block(part.media_type or "", part.data, part.filename, part_param))
        else:
            kind = "input_audio" if isinstance(part, AudioPart) else part.type
            raise fail(f"{part_param}: part type {kind!r} is not supported by bedrock (text, image_url, file)", part_param)
    return blocks


def _assistant(message: Message) -> list[dict[str, Any]]:
    blocks = _content(message.content, message.path)
    for call in message.tool_calls:
        blocks.append({"toolUse": {"toolUseId": call.id, "name": call.name, "input": call.arguments}})
    return blocks


def _tool_result(message: Message) -> dict[str, Any]:
    content = [{"text": text} for text, _ in _texts(message) if text]
    # Converse refuses an empty result; an empty string is what the tool returned.
    return {"toolResult": {"toolUseId": message.tool_call_id, "content": content or [{"text": ""}]}}


def _tool_config(request: ChatRequest, turns: list[dict[str, Any]]) -> dict[str, Any] | None:
    specs = []
    for index, tool in enumerate(request.tools):
        specs += [tool_spec(tool.name, tool.description, tool.parameters, f"tools[{index}]"), *marker_point(tool.cache_control)]
    config: dict[str, Any] = {"tools": specs}
    answer = answer_tool_for(request, "bedrock")
    if answer is not None:
        specs.append(tool_spec(answer.name, answer.description, answer.schema, "response_format"))
        config["toolChoice"] = {"tool": {"name": answer.name}} if answer.forced else {"any": {}}
        return config
    choice = request.tool_choice
    if not request.tools or (choice is not None and choice.mode == "none"):
        return None
    if choice is None:
        return config
    if choice.mode == "required":
        config["toolChoice"] = {"any": {}}
    elif choice.mode == "auto":
        config["toolChoice"] = {"auto": {}}
    else:
        config["toolChoice"] = {"tool": {"name": choice.name}}
    return config
