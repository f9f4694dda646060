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

The request is read parsed and validated (``gateway.translate.chat_request``), as
every translating provider reads it; this module only refuses what Anthropic cannot
take (audio parts, OpenAI file ids, ``n`` > 1).

OpenAI-only parameters with no Anthropic counterpart (``seed``, ``logprobs``,
penalties, ...) are dropped; ``n`` other than 1 is refused, as Anthropic gives one
answer per call.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...errors import BadRequest
from ...translate.chat_request import (
    AudioPart,
    ChatRequest,
    FilePart,
    ImagePart,
    Message,
    Part,
    RefusalPart,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    parse_chat_request,
)
from ...translate.response_format import AnswerTool, answer_tool_for

# Used when the client sends no max_tokens / max_completion_tokens: long enough for
# ordinary answers, and accepted by every current Claude model.
DEFAULT_MAX_TOKENS = 4096


def require_model(body: Mapping[str, Any]) -> None:
    """Anthropic needs the model named: checked first, before the rest of the body."""
    if not isinstance(body.get("model"), str) or not body.get("model"):
        raise BadRequest("model: required, the Claude model to call", code="missing_model", param="model")


def to_messages_request(body: Mapping[str, Any] | ChatRequest) -> dict[str, Any]:
    if not isinstance(body, ChatRequest):
        require_model(body)
        body = parse_chat_request(body)
    request = body
    if not request.model:
        raise BadRequest("model: required, the Claude model to call", code="missing_model", param="model")
    if request.n not in (1, None):
        raise BadRequest("n: Anthropic returns one choice per request; use n=1", code="unsupported_parameter", param="n")

    system, turns = _messages(request.messages)
    out: dict[str, Any] = {"model": request.model, "messages": turns, "max_tokens": _max_tokens(request)}
    if system:
        out["system"] = system[0]["text"] if len(system) == 1 and system[0].keys() == {"type", "text"} else system
    for key in ("temperature", "top_p", "top_k", "thinking"):
        value = getattr(request, key)
        if value is not None:
            out[key] = value
    if request.stream:
        out["stream"] = True
    if request.stop:
        out["stop_sequences"] = list(request.stop)
    if request.user is not None:
        out["metadata"] = {"user_id": request.user}
    if request.tools:
        out["tools"] = [_tool(tool) for tool in request.tools]
    tool_choice = _tool_choice(request.tool_choice)
    if request.parallel_tool_calls is False and request.tools:
        tool_choice = tool_choice or {"type": "auto"}
        if tool_choice["type"] != "none":
            tool_choice["disable_parallel_tool_use"] = True
    answer = answer_tool_for(request, "anthropic")
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


def _max_tokens(request: ChatRequest) -> int:
    if request.max_tokens is not None:
        return request.max_tokens
    thinking = request.thinking
    if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int):
        return DEFAULT_MAX_TOKENS + thinking["budget_tokens"]
    return DEFAULT_MAX_TOKENS


def _messages(messages: tuple[Message, ...]) -> tuple[list[dict], list[dict]]:
    system: list[dict] = []
    turns: list[dict] = []
    for message in messages:
        role = message.role
        content_path = f"{message.path}.content"
        if role in ("system", "developer"):
            system += _text_blocks(message.content, content_path)
            continue
        if role == "user":
            blocks = _user_blocks(message.content, content_path)
        elif role == "assistant":
            blocks = _assistant_blocks(message)
        else:  # tool
            blocks = [_tool_result(message)]
            role = "user"
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


def _text_blocks(content: str | tuple[Part, ...] | None, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        raise BadRequest(f"{path}: must be a string or a list of text parts", code="invalid_content", param=path)
    blocks = []
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise BadRequest(f"{path}[{j}]: only text parts are allowed here", code="invalid_content", param=f"{path}[{j}]")
        blocks.append(_text(part))
    return blocks


def _text(part: TextPart) -> dict:
    block = {"type": "text", "text": part.text}
    if part.cache_control is not None:
        block["cache_control"] = part.cache_control
    return block


def _user_blocks(content: str | tuple[Part, ...] | None, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        raise BadRequest(f"{path}: must be a string or a list of content parts", code="invalid_content", param=path)
    blocks = []
    for j, part in enumerate(content):
        if isinstance(part, TextPart):
            if part.text:  # an empty text block is a 400 at Anthropic
                blocks.append(_text(part))
        elif isinstance(part, ImagePart):
            blocks.append(_image(part))
        elif isinstance(part, FilePart):
            blocks.append(_document(part))
        else:
            kind = "refusal" if isinstance(part, RefusalPart) else "input_audio" if isinstance(part, AudioPart) else part.type
            raise BadRequest(
                f"{path}[{j}]: content part type {kind!r} is not supported by anthropic (text, image_url, file)",
                code="invalid_content",
                param=f"{path}[{j}]",
            )
    return blocks


def _image(part: ImagePart) -> dict:
    if part.url is not None:
        return {"type": "image", "source": {"type": "url", "url": part.url}}
    return {"type": "image", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}


def _document(part: FilePart) -> dict:
    if part.data is None:
        raise BadRequest(
            f"{part.path}.file.file_data: required (a data: URL); OpenAI file ids mean nothing to anthropic",
            code="invalid_file",
            param=f"{part.path}.file",
        )
    return {"type": "document", "source": {"type": "base64", "media_type": part.media_type, "data": part.data}}


def _assistant_blocks(message: Message) -> list[dict]:
    content = message.content
    blocks: list[dict] = []
    if isinstance(content, str):
        if content:
            blocks.append({"type": "text", "text": content})
    elif content is not None:
        for j, part in enumerate(content):
            if isinstance(part, TextPart):
                if part.text:
                    blocks.append(_text(part))
            elif isinstance(part, RefusalPart):
                if part.refusal:
                    blocks.append({"type": "text", "text": part.refusal})
            else:
                raise BadRequest(
                    f"{message.path}.content[{j}]: assistant content parts must be text",
                    code="invalid_content",
                    param=f"{message.path}.content[{j}]",
                )
    blocks += [_tool_use(call) for call in message.tool_calls]
    return blocks


def _tool_use(call: ToolCall) -> dict:
    return {"type": "tool_use", "id": call.id, "name": call.name, "input": call.arguments}


def _tool_result(message: Message) -> dict:
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": message.tool_call_id}
    if isinstance(message.content, str):
        result["content"] = message.content
    else:
        result["content"] = _text_blocks(message.content, f"{message.path}.content")
    return result


def _tool(tool: Tool) -> dict:
    out: dict[str, Any] = {
        "name": tool.name,
        "input_schema": tool.parameters or {"type": "object", "properties": {}},
    }
    if tool.description:
        out["description"] = tool.description
    if tool.cache_control is not None:
        out["cache_control"] = tool.cache_control
    return out


def _tool_choice(choice: ToolChoice | None) -> dict | None:
    if choice is None:
        return None
    if choice.mode == "function":
        return {"type": "tool", "name": choice.name}
    return {"type": {"auto": "auto", "required": "any", "none": "none"}[choice.mode]}
