"""Anthropic Messages (``POST /v1/messages``) ↔ Bedrock Converse, plain answers.

The request's blocks map one to one: ``text``, ``image`` (base64 source),
``document`` (base64 or plain-text source),
``tool_use`` → ``toolUse``, ``tool_result`` → ``toolResult`` (``is_error`` → status
``error``), ``thinking`` / ``redacted_thinking`` → ``reasoningContent``. ``system``,
``max_tokens``, ``temperature``, ``top_p``, ``stop_sequences``, ``tools`` and
``tool_choice`` have Converse fields; ``top_k`` and ``thinking`` travel in
``additionalModelRequestFields``. Prompt-cache markers (``cache_control`` on system,
message or tool blocks) become Converse ``cachePoint`` blocks right after the block.

``tool_choice: none`` sends no toolConfig (Converse has no "none"; the conversation's
tool blocks go as text, see ``blocks.tool_blocks_as_text``). With ``stop_sequences``
the request asks for ``additionalModelResponseFieldPaths: ["/stop_sequence"]``, so
that a ``stop_sequence`` answer names the sequence that matched, as Anthropic does.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

import orjson

from ...translate.anthropic_message import build_message
from .blocks import (
    cache_point,
    converse_request,
    document_block,
    fail,
    image_block,
    inference_config,
    tool_spec,
)
from .converse_response import converse_events, parse_json_object


def message_id() -> str:
    return "msg_bdrk_" + uuid.uuid4().hex[:24]


def messages_to_converse(body: dict[str, Any]) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise fail("messages: must be a non-empty list", "messages")
    turns = []
    for index, message in enumerate(messages):
        param = f"messages[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        if role not in ("user", "assistant"):
            raise fail(f"{param}.role: must be user or assistant", param)
        turns.append({"role": role, "content": _blocks(message.get("content"), param)})
    inference = inference_config(
        body.get("max_tokens"), body.get("temperature"), body.get("top_p"), body.get("stop_sequences")
    )
    request = converse_request(turns, _system(body.get("system")), inference, body, _tool_config)
    if inference.get("stopSequences"):
        # Claude's own response field; Converse passes it on only when asked.
        request["additionalModelResponseFieldPaths"] = [STOP_SEQUENCE_PATH]
    return request


STOP_SEQUENCE_PATH = "/stop_sequence"


def _system(system: Any) -> list[dict[str, str]]:
    if isinstance(system, str):
        return [{"text": system}] if system else []
    if isinstance(system, list):
        blocks = []
        for block in system:
            if isinstance(block, dict) and block.get("text"):
                blocks += [{"text": block["text"]}, *cache_point(block)]
        return blocks
    if system is None:
        return []
    raise fail("system: must be a string or a list of text blocks", "system")


def _blocks(content: Any, param: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise fail(f"{param}.content: must be a string or a list of blocks", param)
    blocks = []
    for index, block in enumerate(content):
        blocks += [_block(block, f"{param}.content[{index}]"), *cache_point(block)]
    return blocks


def _block(block: Any, param: str) -> dict[str, Any]:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        return {"text": block.get("text", "")}
    if kind == "image":
        source = block.get("source") or {}
        if source.get("type") != "base64":
            raise fail(f"{param}: bedrock needs images as base64 sources; it cannot fetch URLs", param)
        return image_block(source.get("media_type", ""), source.get("data", ""), param)
    if kind == "document":
        source = block.get("source") or {}
        if source.get("type") == "text":
            data = base64.b64encode(str(source.get("data", "")).encode()).decode()
            return document_block("text/plain", data, block.get("title"), param)
        if source.get("type") != "base64":
            raise fail(f"{param}: bedrock needs documents as base64 or text sources; it cannot fetch URLs", param)
        return document_block(source.get("media_type", ""), source.get("data", ""), block.get("title"), param)
    if kind == "tool_use":
        tool_input = block.get("input", {})
        if not isinstance(tool_input, dict):
            raise fail(f"{param}.input: must be a JSON object", f"{param}.input")
        return {"toolUse": {"toolUseId": block.get("id"), "name": block.get("name"), "input": tool_input}}
    if kind == "tool_result":
        result: dict[str, Any] = {"toolUseId": block.get("tool_use_id"), "content": _result_content(block.get("content"), param)}
        if block.get("is_error"):
            result["status"] = "error"
        return {"toolResult": result}
    if kind == "thinking":
        text: dict[str, Any] = {"text": block.get("thinking", "")}
        if block.get("signature"):
            text["signature"] = block["signature"]
        return {"reasoningContent": {"reasoningText": text}}
    if kind == "redacted_thinking":
        return {"reasoningContent": {"redactedContent": block.get("data", "")}}
    raise fail(f"{param}: block type {kind!r} is not supported by bedrock", param)


def _result_content(content: Any, param: str) -> list[dict[str, Any]]:
    if content is None or content == "":
        return [{"text": ""}]
    if isinstance(content, str):
        return [{"text": content}]
    blocks = []
    for index, block in enumerate(content if isinstance(content, list) else ()):
        converted = _block(block, f"{param}.content[{index}]")
        if not converted.keys() & {"text", "image", "document"}:
            raise fail(f"{param}.content[{index}]: a tool result holds text, images and documents only", param)
        blocks.append(converted)
    return blocks or [{"text": ""}]


def _tool_config(body: dict[str, Any], turns: list[dict[str, Any]]) -> dict[str, Any] | None:
    tools = body.get("tools")
    if not tools:
        return None
    specs = []
    for index, tool in enumerate(tools):
        specs += [tool_spec(tool.get("name"), tool.get("description"), tool.get("input_schema"), f"tools[{index}]"), *cache_point(tool)]
    config: dict[str, Any] = {"tools": specs}
    choice = body.get("tool_choice") or {}
    kind = choice.get("type")
    if kind == "none":
        return None
    if kind == "any":
        config["toolChoice"] = {"any": {}}
    elif kind == "auto":
        config["toolChoice"] = {"auto": {}}
    elif kind == "tool":
        config["toolChoice"] = {"tool": {"name": choice.get("name")}}
    return config


def converse_to_message(body: bytes, model: str, stop_sequences: tuple[str, ...] = ()) -> bytes:
    answer = parse_json_object(body, "Converse answer")
    events = converse_events(answer, stop_sequences=stop_sequences)
    return orjson.dumps(build_message(events, model=model, message_id=message_id))
