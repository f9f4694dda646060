"""OpenAI chat-completions request → Gemini ``GenerateContentRequest`` (pure).

What maps where:

* ``system`` and ``developer`` messages → ``systemInstruction`` (text parts).
* ``user`` → role ``user``, ``assistant`` → role ``model``; consecutive turns of one
  role are merged (the results answering one model turn form one user turn), and
  empty turns and empty text parts are left out (Gemini refuses them).
* content parts: ``text``; ``image_url`` and ``file`` as a ``data:`` URL →
  ``inlineData``; an http(s) image URL → ``fileData`` (Gemini fetches public and
  signed URLs itself); ``input_audio`` → ``inlineData`` (``audio/wav``, ``audio/mp3``).
* assistant ``tool_calls`` → ``functionCall`` parts (arguments parsed; the Gemini 3
  thought signature the gateway put in the id goes back as ``thoughtSignature``);
  ``role: tool`` → ``functionResponse``, named through the ``tool_call_id`` of the
  assistant turn it answers (a JSON object result as is, anything else as
  ``{"result": ...}``, since Gemini's ``response`` is an object).
* ``tools`` → one ``functionDeclarations`` list (parameters through
  :func:`gemini_schema`); ``tool_choice`` → ``toolConfig.functionCallingConfig``:
  auto → AUTO, required → ANY, none → NONE, a named function → ANY with
  ``allowedFunctionNames``.
* ``response_format``: ``json_object`` → ``responseMimeType: application/json``;
  ``json_schema`` → that plus ``responseSchema`` (Gemini has a native JSON mode: no
  answer tool as on Anthropic).
* ``generationConfig``: ``stop`` → ``stopSequences``, ``max_completion_tokens`` /
  ``max_tokens`` → ``maxOutputTokens``, ``temperature``, ``top_p`` → ``topP``,
  ``top_k`` → ``topK``, ``seed``, ``n`` → ``candidateCount``, the penalties;
  ``reasoning_effort`` (or Anthropic-style ``thinking``) → ``thinkingConfig``.

Other OpenAI parameters (``user``, ``logprobs``, ``parallel_tool_calls``, ...) have no
Gemini counterpart and are dropped.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

import orjson

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
from ...translate.response_format import requested_schema
from .schema import gemini_schema
from .tool_ids import signature_of

# reasoning_effort → thinking budget in tokens (0 turns thinking off on the models
# that allow it). The levels follow the budgets Google gives for its OpenAI layer.
THINKING_BUDGETS = {"none": 0, "minimal": 512, "low": 1024, "medium": 8192, "high": 24576}

_AUDIO_FORMATS = {"wav": "audio/wav", "mp3": "audio/mp3"}
_GENERATION_KEYS = (
    ("temperature", "temperature"),
    ("top_p", "topP"),
    ("top_k", "topK"),
    ("seed", "seed"),
    ("presence_penalty", "presencePenalty"),
    ("frequency_penalty", "frequencyPenalty"),
)


# The sampling fields ChatRequest reads; the penalties stay in its extra fields.
_TYPED = frozenset({"temperature", "top_p", "top_k", "seed"})


def model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest(
            "model: required, the Gemini model to call (e.g. gemini-2.5-flash)", code="missing_model", param="model"
        )
    model = model.strip()
    return model.removeprefix("models/")


def to_generate_content(body: Mapping[str, Any] | ChatRequest) -> dict[str, Any]:
    if not isinstance(body, ChatRequest):
        model_of(body)
        body = parse_chat_request(body)
    request = body
    system, contents = _contents(request.messages)
    if not contents:
        raise BadRequest(
            "messages: needs at least one user or assistant message with content",
            code="invalid_messages",
            param="messages",
        )
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    if request.tools:
        out["tools"] = [{"functionDeclarations": [_declaration(tool, f"tools[{i}]") for i, tool in enumerate(request.tools)]}]
    calling = _function_calling(request.tool_choice, bool(request.tools))
    if calling is not None:
        out["toolConfig"] = {"functionCallingConfig": calling}
    generation = _generation_config(request)
    if generation:
        out["generationConfig"] = generation
    return out


def _contents(messages: tuple[Message, ...]) -> tuple[list[dict], list[dict]]:
    system: list[dict] = []
    contents: list[dict] = []
    names: dict[str, str] = {}  # tool_call_id → function name, from the assistant turns
    for message in messages:
        role = message.role
        content_path = f"{message.path}.content"
        if role in ("system", "developer"):
            system += _text_parts(message.content, content_path)
            continue
        if role == "user":
            parts, gemini_role = _user_parts(message.content, content_path), "user"
        elif role == "assistant":
            parts, gemini_role = _model_parts(message, names), "model"
        else:  # tool
            parts, gemini_role = [_function_response(message, names)], "user"
        if not parts:
            continue  # Gemini refuses a turn without parts; its neighbours merge instead
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": gemini_role, "parts": parts})
    return system, contents


def _text_parts(content: str | tuple[Part, ...] | None, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if content is None:
        raise BadRequest(f"{path}: must be a string or a list of text parts", code="invalid_content", param=path)
    parts = []
    for j, part in enumerate(content):
        if not isinstance(part, TextPart):
            raise BadRequest(
                f"{path}[{j}]: only text parts are allowed here", code="invalid_content", param=f"{path}[{j}]"
            )
        if part.text:
            parts.append({"text": part.text})
    return parts


def _user_parts(content: str | tuple[Part, ...] | None, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if content is None:
        raise BadRequest(f"{path}: must be a string or a list of content parts", code="invalid_content", param=path)
    parts = []
    for j, part in enumerate(content):
        part_path = f"{path}[{j}]"
        if isinstance(part, TextPart):
            if part.text:
                parts.append({"text": part.text})
        elif isinstance(part, ImagePart):
            parts.append(_image(part))
        elif isinstance(part, FilePart):
            parts.append(_file(part))
        elif isinstance(part, AudioPart):
            parts.append(_audio(part))
        else:
            kind = "refusal" if isinstance(part, RefusalPart) else part.type
            raise BadRequest(
                f"{part_path}: content part type {kind!r} is not supported by google (text, image_url, file, input_audio)",
                code="invalid_content",
                param=part_path,
            )
    return parts


def _image(part: ImagePart) -> dict:
    if part.url is not None:
        file_data = {"fileUri": part.url}
        guessed, _ = mimetypes.guess_type(part.url.split("?", 1)[0])
        if guessed:
            file_data["mimeType"] = guessed
        return {"fileData": file_data}
    return {"inlineData": {"mimeType": part.media_type, "data": part.data}}


def _file(part: FilePart) -> dict:
    if part.data is None:
        raise BadRequest(
            f"{part.path}.file.file_data: required (a data: URL); OpenAI file ids mean nothing to google",
            code="invalid_file",
            param=f"{part.path}.file",
        )
    return {"inlineData": {"mimeType": part.media_type, "data": part.data}}


def _audio(part: AudioPart) -> dict:
    if part.format not in _AUDIO_FORMATS or not isinstance(part.data, str):
        raise BadRequest(
            f"{part.path}.input_audio: needs data (base64) and format (wav or mp3)",
            code="invalid_audio",
            param=f"{part.path}.input_audio",
        )
    return {"inlineData": {"mimeType": _AUDIO_FORMATS[part.format], "data": part.data}}


def _model_parts(message: Message, names: dict[str, str]) -> list[dict]:
    content = message.content
    parts: list[dict] = []
    if isinstance(content, str):
        if content:
            parts.append({"text": content})
    elif content is not None:
        for j, part in enumerate(content):
            if isinstance(part, TextPart):
                if part.text:
                    parts.append({"text": part.text})
            elif isinstance(part, RefusalPart):
                if part.refusal:
                    parts.append({"text": part.refusal})
            else:
                raise BadRequest(
                    f"{message.path}.content[{j}]: assistant content parts must be text",
                    code="invalid_content",
                    param=f"{message.path}.content[{j}]",
                )
    for call in message.tool_calls:
        parts.append(_function_call(call, names))
    return parts


def _function_call(call: ToolCall, names: dict[str, str]) -> dict:
    names[call.id] = call.name
    part: dict[str, Any] = {"functionCall": {"name": call.name, "args": call.arguments}}
    signature = signature_of(call.id) or _extra_signature(call.extra)
    if signature:
        part["thoughtSignature"] = signature
    return part


def _extra_signature(call: Mapping[str, Any]) -> str | None:
    # Google's own OpenAI layer returns the signature here; clients built on it send it back.
    google = (
        ((call.get("extra_content") or {}).get("google") or {}) if isinstance(call.get("extra_content"), dict) else {}
    )
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def _function_response(message: Message, names: dict[str, str]) -> dict:
    call_id = message.tool_call_id or ""
    path = message.path
    name = names.get(call_id)
    if name is None:
        # Gemini pairs a result with its call by name: the call must be in this conversation.
        raise BadRequest(
            f"{path}.tool_call_id: {call_id!r} answers no tool call of an earlier assistant message",
            code="invalid_tool_result",
            param=f"{path}.tool_call_id",
        )
    content = message.content
    if isinstance(content, tuple):
        content = "".join(part["text"] for part in _text_parts(content, f"{path}.content"))
    elif not isinstance(content, str):
        raise BadRequest(
            f"{path}.content: must be a string or text parts", code="invalid_content", param=f"{path}.content"
        )
    return {"functionResponse": {"name": name, "response": _response_object(content)}}


def _response_object(content: str) -> dict[str, Any]:
    try:
        parsed = orjson.loads(content)
    except orjson.JSONDecodeError:
        return {"result": content}
    return parsed if isinstance(parsed, dict) else {"result": parsed}


def _declaration(tool: Tool, path: str) -> dict:
    if not tool.name:
        raise BadRequest(
            f"{path}: must be {{type: function, function: {{name, ...}}}}", code="invalid_tools", param=path
        )
    out: dict[str, Any] = {"name": tool.name}
    if tool.description:
        out["description"] = tool.description
    if tool.parameters is not None:
        schema = gemini_schema(tool.parameters, f"{path}.function.parameters")
        # Gemini refuses an object without properties: a function of no
        # parameters is declared without any.
        if schema.get("properties") or schema.get("type") not in ("OBJECT", None):
            out["parameters"] = schema
    return out


def _function_calling(choice: ToolChoice | None, has_tools: bool) -> dict | None:
    if choice is None:
        return None
    if choice.mode == "auto":
        return {"mode": "AUTO"} if has_tools else None
    if choice.mode == "none":
        return {"mode": "NONE"} if has_tools else None
    if choice.mode == "required":
        mode: dict[str, Any] = {"mode": "ANY"}
    else:
        mode = {"mode": "ANY", "allowedFunctionNames": [choice.name]}
    if not has_tools:
        raise BadRequest("tool_choice: requires tools", code="invalid_tool_choice", param="tool_choice")
    return mode


def _generation_config(request: ChatRequest) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for field_name, gemini_key in _GENERATION_KEYS:
        value = getattr(request, field_name) if field_name in _TYPED else request.extra.get(field_name)
        if value is not None:
            config[gemini_key] = value
    if request.max_tokens is not None:
        config["maxOutputTokens"] = request.max_tokens
    if request.n is not None:
        if request.n < 1:
            raise BadRequest("n: must be a positive integer", code="invalid_value", param="n")
        if request.n > 1:
            config["candidateCount"] = request.n
    if request.stop:
        config["stopSequences"] = list(request.stop)
    config.update(_response_format(request.response_format))
    thinking = _thinking(request)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _response_format(response_format: Any) -> dict[str, Any]:
    # The shared parser validates as it does for every provider; Gemini then takes
    # JSON natively (no answer tool).
    schema = requested_schema(response_format, "google")
    if schema is None:
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if response_format.get("type") == "json_schema" and (response_format.get("json_schema") or {}).get("schema"):
        out["responseSchema"] = gemini_schema(schema, "response_format.json_schema.schema")
    return out


def _thinking(request: ChatRequest) -> dict[str, Any] | None:
    effort = request.reasoning_effort if request.reasoning_effort is not None else request.extra.get("reasoning_effort")
    if effort is not None:
        if effort not in THINKING_BUDGETS:
            raise BadRequest(
                f"reasoning_effort: must be one of {', '.join(THINKING_BUDGETS)}",
                code="invalid_value",
                param="reasoning_effort",
            )
        budget = THINKING_BUDGETS[effort]
        return {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}
    thinking = request.thinking
    if isinstance(thinking, dict):
        if thinking.get("type") == "disabled":
            return {"thinkingBudget": 0}
        budget = thinking.get("budget_tokens")
        if thinking.get("type") == "enabled":
            config: dict[str, Any] = {"includeThoughts": True}
            if isinstance(budget, int) and not isinstance(budget, bool):
                config["thinkingBudget"] = budget
            return config
    return None
