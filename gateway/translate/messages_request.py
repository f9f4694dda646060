"""An Anthropic Messages request (``POST /v1/messages``) → the typed chat request.

For providers that do not speak Anthropic's protocol (OpenAI-compatible ones,
Gemini): the request becomes the same :class:`~.chat_request.ChatRequest` an OpenAI
client's would, so each provider's own translation of it applies unchanged. A 400
names the Anthropic field at fault (``messages[1].content[0].source``).

What maps where:

* ``system`` (a string or text blocks) → one system message;
* a user turn → its ``tool_result`` blocks first, as tool messages (they must follow
  the assistant turn that called the tools), then a user message with the other
  blocks: ``text``, ``image`` (base64 or URL source), ``document`` (base64 PDF, or a
  plain-text source as text); images inside a tool result go in that user message
  too, since a tool message holds text only;
* an assistant turn → text and ``tool_use`` blocks (→ tool calls); ``thinking`` and
  ``redacted_thinking`` blocks are left out: their signatures mean nothing to
  another provider;
* ``tools`` (client tools) → function tools; Anthropic's server tools (``web_search``,
  ``bash``, ... with a ``type``) run only at Anthropic: a 400;
* ``tool_choice``: auto → auto, any → required, tool → that function, none → none;
  ``disable_parallel_tool_use`` → ``parallel_tool_calls: false``;
* ``max_tokens``, ``temperature``, ``top_p``, ``top_k``, ``stop_sequences`` → stop,
  ``thinking`` (kept as sent: Gemini maps it to ``thinkingConfig``),
  ``metadata.user_id`` → user; a stream always asks for its usage;
* structured outputs, ``output_config.format`` (or the beta's top-level
  ``output_format``) ``{type: json_schema, schema}`` → ``response_format``
  ``json_schema`` (OpenAI's JSON mode, Gemini's ``responseSchema``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import BadRequest
from .chat_request import (
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    OtherPart,
    Part,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
)


def fail(message: str, param: str, code: str = "invalid_request") -> BadRequest:
    return BadRequest(f"{param}: {message}", code=code, param=param)


def parse_messages_request(body: Mapping[str, Any]) -> ChatRequest:
    """The client's Messages JSON object → a :class:`ChatRequest`, or a 400."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise fail("required, the model to call", "model", "missing_model")
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise fail("required, a positive integer", "max_tokens", "invalid_value")
    raw_messages = body.get("messages")
    if not isinstance(raw_messages, list) or not raw_messages:
        raise fail("must be a non-empty list", "messages", "invalid_messages")
    messages: list[Message] = []
    system = _system(body.get("system"))
    if system:
        messages.append(Message("system", "system", system))
    for index, message in enumerate(raw_messages):
        messages += _turn(message, f"messages[{index}]")
    tools = _tools(body.get("tools"))
    choice, parallel = _tool_choice(body.get("tool_choice"))
    metadata = body.get("metadata")
    user = metadata.get("user_id") if isinstance(metadata, dict) else None
    stream = body.get("stream") is True
    effort = body.get("reasoning_effort")  # not Anthropic's: an operator's override_params
    return ChatRequest(
        messages=tuple(messages),
        model=model.strip(),
        tools=tools,
        tool_choice=choice,
        parallel_tool_calls=parallel,
        max_tokens=max_tokens,
        temperature=body.get("temperature"),
        top_p=body.get("top_p"),
        top_k=body.get("top_k"),
        stop=_stop_sequences(body.get("stop_sequences")),
        reasoning_effort=effort if isinstance(effort, str) else None,
        thinking=body.get("thinking"),
        response_format=_response_format(body),
        user=user if isinstance(user, str) and user else None,
        stream=stream,
        include_usage=stream,  # message_delta carries the usage
    )


def _system(system: Any) -> str | None:
    if system is None or system == "":
        return None
    if isinstance(system, str):
        return system
    if isinstance(system, list):
        texts = []
        for index, block in enumerate(system):
            if not isinstance(block, dict) or block.get("type") != "text" or not isinstance(block.get("text"), str):
                raise fail("must be a text block", f"system[{index}]")
            texts.append(block["text"])
        return "\n".join(texts) or None
    raise fail("must be a string or a list of text blocks", "system")


def _turn(message: Any, path: str) -> list[Message]:
    role = message.get("role") if isinstance(message, dict) else None
    if role not in ("user", "assistant"):
        raise fail("must be user or assistant", f"{path}.role", "invalid_messages")
    content = message.get("content")
    if isinstance(content, str):
        return [Message(role, path, content)]
    if not isinstance(content, list):
        raise fail("must be a string or a list of blocks", f"{path}.content", "invalid_messages")
    if role == "assistant":
        turn = _assistant(content, path)
        # A turn that held only thinking is nothing to another provider (OpenAI
        # refuses an assistant message with neither content nor tool calls).
        return [turn] if turn.content is not None or turn.tool_calls else []
    results: list[Message] = []
    parts: list[Part] = []
    for index, block in enumerate(content):
        block_path = f"{path}.content[{index}]"
        if isinstance(block, dict) and block.get("type") == "tool_result":
            text, images = _tool_result(block, block_path)
            results.append(Message("tool", block_path, text, tool_call_id=_tool_use_id(block, block_path)))
            parts += images
        else:
            parts.append(_part(block, block_path))
    if parts:
        results.append(Message("user", path, tuple(parts)))
    return results


def _assistant(content: list[Any], path: str) -> Message:
    parts: list[Part] = []
    calls: list[ToolCall] = []
    for index, block in enumerate(content):
        block_path = f"{path}.content[{index}]"
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            parts.append(_text(block, block_path))
        elif kind == "tool_use":
            tool_id, name, tool_input = block.get("id"), block.get("name"), block.get("input", {})
            if not isinstance(tool_id, str) or not tool_id or not isinstance(name, str) or not name:
                raise fail("needs id and name", block_path, "invalid_tool_use")
            if not isinstance(tool_input, dict):
                raise fail("must be a JSON object", f"{block_path}.input", "invalid_tool_use")
            calls.append(ToolCall(tool_id, name, tool_input))
        elif kind in ("thinking", "redacted_thinking"):
            continue  # signed for Anthropic's models only
        else:
            raise fail(f"block type {kind!r} cannot be in an assistant turn here", block_path, "invalid_messages")
    return Message("assistant", path, tuple(parts) if parts else None, tuple(calls))


def _part(block: Any, path: str) -> Part:
    kind = block.get("type") if isinstance(block, dict) else None
    if kind == "text":
        return _text(block, path)
    if kind == "image":
        source = _source(block, path)
        if source.get("type") == "url" and isinstance(source.get("url"), str):
            return ImagePart(path, url=source["url"], cache_control=block.get("cache_control"))
        media_type, data = _base64(source, path)
        return ImagePart(path, media_type=media_type, data=data, cache_control=block.get("cache_control"))
    if kind == "document":
        source = _source(block, path)
        if source.get("type") == "text" and isinstance(source.get("data"), str):
            return TextPart(source["data"], block.get("cache_control"))
        if source.get("type") != "base64":
            raise fail("a document must come as {type: base64, media_type, data} or {type: text, data} here", f"{path}.source", "invalid_content")
        media_type, data = _base64(source, path)
        title = block.get("title")
        return FilePart(path, media_type=media_type, data=data, filename=title if isinstance(title, str) else None)
    return OtherPart(path, kind)  # every provider refuses it, naming the path


def _text(block: dict[str, Any], path: str) -> TextPart:
    if not isinstance(block.get("text"), str):
        raise fail("must be a string", f"{path}.text", "invalid_content")
    return TextPart(block["text"], block.get("cache_control"))


def _source(block: dict[str, Any], path: str) -> dict[str, Any]:
    source = block.get("source")
    if not isinstance(source, dict):
        raise fail("required", f"{path}.source", "invalid_content")
    return source


def _base64(source: dict[str, Any], path: str) -> tuple[str, str]:
    media_type, data = source.get("media_type"), source.get("data")
    if source.get("type") != "base64" or not isinstance(media_type, str) or not isinstance(data, str):
        raise fail("must be {type: base64, media_type, data} or {type: url, url}", f"{path}.source", "invalid_content")
    return media_type, data


def _tool_use_id(block: dict[str, Any], path: str) -> str:
    tool_use_id = block.get("tool_use_id")
    if not isinstance(tool_use_id, str) or not tool_use_id:
        raise fail("required", f"{path}.tool_use_id", "invalid_tool_result")
    return tool_use_id


def _tool_result(block: dict[str, Any], path: str) -> tuple[str, list[Part]]:
    """A tool result → (its text, its images): a tool message holds text only."""
    content = block.get("content")
    if content is None or isinstance(content, str):
        return content or "", []
    if not isinstance(content, list):
        raise fail("must be a string or a list of blocks", f"{path}.content", "invalid_tool_result")
    texts: list[str] = []
    images: list[Part] = []
    for index, inner in enumerate(content):
        part = _part(inner, f"{path}.content[{index}]")
        if isinstance(part, TextPart):
            texts.append(part.text)
        else:
            images.append(part)
    return "\n".join(texts), images


def _tools(raw: Any) -> tuple[Tool, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise fail("must be a list of {name, description, input_schema}", "tools", "invalid_tools")
    tools = []
    for index, tool in enumerate(raw):
        path = f"tools[{index}]"
        if not isinstance(tool, dict) or not isinstance(tool.get("name"), str) or not tool["name"]:
            raise fail("must be {name, description, input_schema}", path, "invalid_tools")
        if tool.get("type") not in (None, "custom"):
            raise fail(
                f"{tool['type']!r} is one of Anthropic's server tools, which run only at Anthropic",
                f"{path}.type",
                "unsupported_tool",
            )
        schema = tool.get("input_schema")
        if schema is not None and not isinstance(schema, dict):
            raise fail("must be a JSON schema object", f"{path}.input_schema", "invalid_tools")
        description = tool.get("description")
        tools.append(
            Tool(tool["name"], description if isinstance(description, str) else None, schema, None, tool.get("cache_control"))
        )
    return tuple(tools)


_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def _tool_choice(choice: Any) -> tuple[ToolChoice | None, bool | None]:
    if choice is None:
        return None, None
    if not isinstance(choice, dict):
        raise fail("must be {type: auto | any | none} or {type: tool, name}", "tool_choice", "invalid_tool_choice")
    kind = choice.get("type")
    parallel = False if choice.get("disable_parallel_tool_use") is True else None
    if kind in _CHOICES:
        return ToolChoice(_CHOICES[kind]), parallel
    if kind == "tool" and isinstance(choice.get("name"), str) and choice["name"]:
        return ToolChoice("function", choice["name"]), parallel
    raise fail("must be {type: auto | any | none} or {type: tool, name}", "tool_choice", "invalid_tool_choice")


def _response_format(body: Mapping[str, Any]) -> dict[str, Any] | None:
    output_config = body.get("output_config")
    form = output_config.get("format") if isinstance(output_config, dict) else None
    param = "output_config.format"
    if form is None and body.get("output_format") is not None:
        form, param = body["output_format"], "output_format"
    if form is None:
        return None
    if not isinstance(form, dict) or form.get("type") != "json_schema" or not isinstance(form.get("schema"), dict):
        raise fail("must be {type: json_schema, schema}", param, "invalid_value")
    return {"type": "json_schema", "json_schema": {"name": "response", "schema": form["schema"]}}


def _stop_sequences(stop: Any) -> tuple[str, ...]:
    if stop is None:
        return ()
    if isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        return tuple(stop)
    raise fail("must be a list of strings", "stop_sequences", "invalid_value")
