"""Pieces shared by both client formats (OpenAI chat, Anthropic Messages) on their way
into Converse: images, tool specs, inference settings, turn merging."""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

import orjson

from ...errors import BadRequest
from ...translate.chat_parts import data_url

# Converse image formats, by media type.
IMAGE_FORMATS = {"image/png": "png", "image/jpeg": "jpeg", "image/jpg": "jpeg", "image/gif": "gif", "image/webp": "webp"}


# Converse document formats, by media type.
DOCUMENT_FORMATS = {
    "application/pdf": "pdf",
    "text/csv": "csv",
    "application/msword": "doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.ms-excel": "xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "text/html": "html",
    "text/plain": "txt",
    "text/markdown": "md",
}


def fail(message: str, param: str | None = None) -> BadRequest:
    return BadRequest(message, code="invalid_request_for_bedrock", param=param)


def image_block(media_type: str, data: str, param: str) -> dict[str, Any]:
    """Base64 image data → a Converse image block (bytes travel base64 in JSON)."""
    image_format = IMAGE_FORMATS.get(media_type.lower())
    if image_format is None:
        raise fail(f"{param}: bedrock accepts png, jpeg, gif or webp images, not {media_type!r}", param)
    _base64(data, param, "image")
    return {"image": {"format": image_format, "source": {"bytes": data}}}


def _base64(data: str, param: str, what: str) -> None:
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise fail(f"{param}: {what} data is not valid base64", param) from None


def document_block(media_type: str, data: str, name: str | None, param: str) -> dict[str, Any]:
    """Base64 document data → a Converse document block."""
    document_format = DOCUMENT_FORMATS.get(media_type.lower())
    if document_format is None:
        known = ", ".join(sorted(DOCUMENT_FORMATS))
        raise fail(f"{param}: bedrock accepts documents of type {known}; not {media_type!r}", param)
    _base64(data, param, "document")
    return {"document": {"format": document_format, "name": document_name(name), "source": {"bytes": data}}}


def document_name(name: str | None) -> str:
    # Converse allows letters, digits, single spaces, hyphens, parentheses and
    # square brackets in a document's name; anything else becomes a space.
    stem = (name or "").rsplit(".", 1)[0] if "." in (name or "") else (name or "")
    cleaned = re.sub(r"\s+", " ", re.sub(r"[^A-Za-z0-9\-()\[\] ]", " ", stem)).strip()
    return cleaned[:200] or "document"


def data_url_parts(url: str, param: str) -> tuple[str, str]:
    """``data:<media type>[;params];base64,<data>`` → (media type, data)."""
    return data_url(url, param, "invalid_request_for_bedrock", "a base64 data URL (data:<type>;base64,...)")


def data_url_image(url: str, param: str) -> dict[str, Any]:
    """``data:image/png;base64,...`` → image block; other URLs are refused clearly."""
    if not url.startswith("data:"):
        raise fail(
            f"{param}: bedrock needs images inline as data URLs (data:image/png;base64,...); "
            "it cannot fetch image URLs",
            param,
        )
    media_type, data = data_url_parts(url, param)
    return image_block(media_type, data, param)


def cache_point(block: Any) -> list[dict[str, Any]]:
    """Anthropic's ``cache_control`` marker on a block → a Converse ``cachePoint`` after it
    (``[]`` when unmarked): prompt caching, and its cache read/write usage, on Bedrock."""
    return marker_point(block.get("cache_control") if isinstance(block, dict) else None)


def marker_point(marker: Any) -> list[dict[str, Any]]:
    """A ``cache_control`` marker (or None) → the ``cachePoint`` block that follows (or ``[]``)."""
    if not isinstance(marker, dict):
        return []
    point: dict[str, Any] = {"type": "default"}
    if marker.get("ttl") in ("5m", "1h"):
        point["ttl"] = marker["ttl"]
    return [{"cachePoint": point}]


def tool_spec(name: Any, description: Any, schema: Any, param: str) -> dict[str, Any]:
    if not isinstance(name, str) or not name:
        raise fail(f"{param}: a tool needs a name", param)
    spec: dict[str, Any] = {"name": name, "inputSchema": {"json": schema or {"type": "object", "properties": {}}}}
    if description:
        spec["description"] = description
    return {"toolSpec": spec}


def inference_config(
    max_tokens: Any, temperature: Any, top_p: Any, stop: Any
) -> dict[str, Any]:
    config: dict[str, Any] = {}
    if max_tokens is not None:
        config["maxTokens"] = max_tokens
    if temperature is not None:
        config["temperature"] = temperature
    if top_p is not None:
        config["topP"] = top_p
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    return config


def merge_turns(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Converse needs alternating roles: adjacent turns of one role become one turn
    (e.g. several tool results, then the user's next words)."""
    merged: list[dict[str, Any]] = []
    for turn in turns:
        if not turn["content"]:
            continue
        if merged and merged[-1]["role"] == turn["role"]:
            merged[-1]["content"].extend(turn["content"])
        else:
            merged.append({"role": turn["role"], "content": list(turn["content"])})
    return merged


def has_tool_blocks(turns: list[dict[str, Any]]) -> bool:
    return any("toolUse" in block or "toolResult" in block for turn in turns for block in turn["content"])


def tool_blocks_as_text(turns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation with its toolUse / toolResult blocks written out as text.

    Converse refuses tool blocks without a ``toolConfig``, and has no tool choice
    "none": with a toolConfig the model may always call a tool. So a request that
    must not call one (``tool_choice: none``, or no tools given) sends no toolConfig
    and shows the model its earlier calls and their results as text, which it reads
    as well; images and documents in results stay as they are.
    """
    converted = []
    for turn in turns:
        content: list[dict[str, Any]] = []
        for block in turn["content"]:
            if "toolUse" in block:
                use = block["toolUse"]
                arguments = orjson.dumps(use.get("input", {})).decode()
                content.append({"text": f"[tool call {use.get('toolUseId')}: {use.get('name')}({arguments})]"})
            elif "toolResult" in block:
                result = block["toolResult"]
                failed = " (error)" if result.get("status") == "error" else ""
                content.append({"text": f"[tool result {result.get('toolUseId')}{failed}]"})
                for item in result.get("content") or ():
                    if "json" in item:
                        content.append({"text": orjson.dumps(item["json"]).decode()})
                    elif "text" not in item or item["text"].strip():  # Converse refuses blank text
                        content.append(item)
            else:
                content.append(block)
        converted.append({**turn, "content": content})
    return converted


def converse_request(
    turns: list[dict[str, Any]],
    system: list[dict[str, Any]],
    inference: dict[str, Any],
    body: dict[str, Any],
    tool_config,
) -> dict[str, Any]:
    """A Converse request from translated parts; empty parts are left out.

    ``tool_config(body, messages)`` builds the toolConfig once the turns are merged;
    without one, the conversation's tool blocks go as text (:func:`tool_blocks_as_text`).
    """
    request: dict[str, Any] = {"messages": merge_turns(turns)}
    if system:
        request["system"] = system
    if inference:
        request["inferenceConfig"] = inference
    config = tool_config(body, request["messages"])
    if config:
        request["toolConfig"] = config
    elif has_tool_blocks(request["messages"]):
        request["messages"] = tool_blocks_as_text(request["messages"])
    additional = {key: body[key] for key in ("top_k", "thinking") if body.get(key) is not None}
    if additional:
        request["additionalModelRequestFields"] = additional
    return request
