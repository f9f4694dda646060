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
from typing import Any

import orjson

from ...errors import BadRequest
from ...translate.chat_parts import data_url, tool_call_input
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


def model_of(body: dict[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest(
            "model: required, the Gemini model to call (e.g. gemini-2.5-flash)", code="missing_model", param="model"
        )
    model = model.strip()
    return model.removeprefix("models/")


def to_generate_content(body: dict[str, Any]) -> dict[str, Any]:
    model_of(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("messages: must be a non-empty list", code="invalid_messages", param="messages")
    system, contents = _contents(messages)
    if not contents:
        raise BadRequest(
            "messages: needs at least one user or assistant message with content",
            code="invalid_messages",
            param="messages",
        )
    out: dict[str, Any] = {"contents": contents}
    if system:
        out["systemInstruction"] = {"parts": system}
    tools = body.get("tools")
    if tools:
        if not isinstance(tools, list):
            raise BadRequest("tools: must be a list", code="invalid_tools", param="tools")
        out["tools"] = [{"functionDeclarations": [_declaration(tool, f"tools[{i}]") for i, tool in enumerate(tools)]}]
    calling = _function_calling(body.get("tool_choice"), bool(tools))
    if calling is not None:
        out["toolConfig"] = {"functionCallingConfig": calling}
    generation = _generation_config(body)
    if generation:
        out["generationConfig"] = generation
    return out


def _contents(messages: list[Any]) -> tuple[list[dict], list[dict]]:
    system: list[dict] = []
    contents: list[dict] = []
    names: dict[str, str] = {}  # tool_call_id → function name, from the assistant turns
    for i, message in enumerate(messages):
        path = f"messages[{i}]"
        if not isinstance(message, dict):
            raise BadRequest(f"{path}: must be an object", code="invalid_messages", param=path)
        role = message.get("role")
        if role in ("system", "developer"):
            system += _text_parts(message.get("content"), f"{path}.content")
            continue
        if role == "user":
            parts, gemini_role = _user_parts(message.get("content"), f"{path}.content"), "user"
        elif role == "assistant":
            parts, gemini_role = _model_parts(message, path, names), "model"
        elif role == "tool":
            parts, gemini_role = [_function_response(message, path, names)], "user"
        else:
            raise BadRequest(
                f"{path}.role: {role!r} is not supported (system, developer, user, assistant, tool)",
                code="invalid_messages",
                param=f"{path}.role",
            )
        if not parts:
            continue  # Gemini refuses a turn without parts; its neighbours merge instead
        if contents and contents[-1]["role"] == gemini_role:
            contents[-1]["parts"] += parts
        else:
            contents.append({"role": gemini_role, "parts": parts})
    return system, contents


def _text_parts(content: Any, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{path}: must be a string or a list of text parts", code="invalid_content", param=path)
    parts = []
    for j, part in enumerate(content):
        if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
            raise BadRequest(
                f"{path}[{j}]: only text parts are allowed here", code="invalid_content", param=f"{path}[{j}]"
            )
        if part["text"]:
            parts.append({"text": part["text"]})
    return parts


def _user_parts(content: Any, path: str) -> list[dict]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    if not isinstance(content, list):
        raise BadRequest(f"{path}: must be a string or a list of content parts", code="invalid_content", param=path)
    parts = []
    for j, part in enumerate(content):
        part_path = f"{path}[{j}]"
        kind = part.get("type") if isinstance(part, dict) else None
        if kind == "text" and isinstance(part.get("text"), str):
            if part["text"]:
                parts.append({"text": part["text"]})
        elif kind == "image_url":
            parts.append(_image(part.get("image_url"), part_path))
        elif kind == "file":
            parts.append(_file(part.get("file"), part_path))
        elif kind == "input_audio":
            parts.append(_audio(part.get("input_audio"), part_path))
        else:
            raise BadRequest(
                f"{part_path}: content part type {kind!r} is not supported by google (text, image_url, file, input_audio)",
                code="invalid_content",
                param=part_path,
            )
    return parts


_DATA_URL = "a data:<media type>;base64,<data> URL"


def _image(image_url: Any, path: str) -> dict:
    url = image_url.get("url") if isinstance(image_url, dict) else image_url
    if not isinstance(url, str):
        raise BadRequest(f"{path}.image_url.url: required", code="invalid_image", param=f"{path}.image_url")
    if url.startswith(("https://", "http://")):
        file_data = {"fileUri": url}
        guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
        if guessed:
            file_data["mimeType"] = guessed
        return {"fileData": file_data}
    media_type, data = data_url(url, f"{path}.image_url", "invalid_image", _DATA_URL + " or an http(s) URL")
    return {"inlineData": {"mimeType": media_type, "data": data}}


def _file(file: Any, path: str) -> dict:
    data = file.get("file_data") if isinstance(file, dict) else None
    if not isinstance(data, str):
        raise BadRequest(
            f"{path}.file.file_data: required (a data: URL); OpenAI file ids mean nothing to google",
            code="invalid_file",
            param=f"{path}.file",
        )
    media_type, encoded = data_url(data, f"{path}.file", "invalid_file")
    return {"inlineData": {"mimeType": media_type, "data": encoded}}


def _audio(audio: Any, path: str) -> dict:
    fmt = audio.get("format") if isinstance(audio, dict) else None
    if fmt not in _AUDIO_FORMATS or not isinstance(audio.get("data"), str):
        raise BadRequest(
            f"{path}.input_audio: needs data (base64) and format (wav or mp3)",
            code="invalid_audio",
            param=f"{path}.input_audio",
        )
    return {"inlineData": {"mimeType": _AUDIO_FORMATS[fmt], "data": audio["data"]}}


def _model_parts(message: dict, path: str, names: dict[str, str]) -> list[dict]:
    content = message.get("content")
    parts: list[dict] = []
    if isinstance(content, str):
        if content:
            parts.append({"text": content})
    elif isinstance(content, list):
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and part.get("text"):
                parts.append({"text": part["text"]})
            elif kind == "refusal" and part.get("refusal"):
                parts.append({"text": part["refusal"]})
            elif kind not in ("text", "refusal"):
                raise BadRequest(
                    f"{path}.content[{j}]: assistant content parts must be text",
                    code="invalid_content",
                    param=f"{path}.content[{j}]",
                )
    elif content is not None:
        raise BadRequest(
            f"{path}.content: must be a string, a list or null", code="invalid_content", param=f"{path}.content"
        )
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise BadRequest(f"{path}.tool_calls: must be a list", code="invalid_tool_call", param=f"{path}.tool_calls")
    for k, call in enumerate(calls):
        parts.append(_function_call(call, f"{path}.tool_calls[{k}]", names))
    return parts


def _function_call(call: Any, path: str, names: dict[str, str]) -> dict:
    function = call.get("function") if isinstance(call, dict) else None
    if (
        not isinstance(function, dict)
        or not isinstance(function.get("name"), str)
        or not isinstance(call.get("id"), str)
        or not call["id"]
    ):
        raise BadRequest(f"{path}: needs id and function.name", code="invalid_tool_call", param=path)
    args = tool_call_input(function.get("arguments"), f"{path}.function.arguments", "invalid_tool_call")
    names[call["id"]] = function["name"]
    part: dict[str, Any] = {"functionCall": {"name": function["name"], "args": args}}
    signature = signature_of(call["id"]) or _extra_signature(call)
    if signature:
        part["thoughtSignature"] = signature
    return part


def _extra_signature(call: dict) -> str | None:
    # Google's own OpenAI layer returns the signature here; clients built on it send it back.
    google = (
        ((call.get("extra_content") or {}).get("google") or {}) if isinstance(call.get("extra_content"), dict) else {}
    )
    signature = google.get("thought_signature") if isinstance(google, dict) else None
    return signature if isinstance(signature, str) and signature else None


def _function_response(message: dict, path: str, names: dict[str, str]) -> dict:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise BadRequest(
            f"{path}.tool_call_id: required for role tool", code="invalid_messages", param=f"{path}.tool_call_id"
        )
    name = names.get(call_id)
    if name is None:
        # Gemini pairs a result with its call by name: the call must be in this conversation.
        raise BadRequest(
            f"{path}.tool_call_id: {call_id!r} answers no tool call of an earlier assistant message",
            code="invalid_tool_result",
            param=f"{path}.tool_call_id",
        )
    content = message.get("content")
    if isinstance(content, list):
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


def _declaration(tool: Any, path: str) -> dict:
    function = tool.get("function") if isinstance(tool, dict) and tool.get("type", "function") == "function" else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not function["name"]:
        raise BadRequest(
            f"{path}: must be {{type: function, function: {{name, ...}}}}", code="invalid_tools", param=path
        )
    out: dict[str, Any] = {"name": function["name"]}
    if isinstance(function.get("description"), str) and function["description"]:
        out["description"] = function["description"]
    parameters = function.get("parameters")
    if parameters is not None:
        schema = gemini_schema(parameters, f"{path}.function.parameters")
        # Gemini refuses an object without properties: a function of no
        # parameters is declared without any.
        if schema.get("properties") or schema.get("type") not in ("OBJECT", None):
            out["parameters"] = schema
    return out


def _function_calling(choice: Any, has_tools: bool) -> dict | None:
    if choice is None:
        return None
    if choice == "auto":
        return {"mode": "AUTO"} if has_tools else None
    if choice == "none":
        return {"mode": "NONE"} if has_tools else None
    if choice == "required":
        mode = {"mode": "ANY"}
    elif (
        isinstance(choice, dict)
        and choice.get("type") == "function"
        and isinstance((choice.get("function") or {}).get("name"), str)
    ):
        mode = {"mode": "ANY", "allowedFunctionNames": [choice["function"]["name"]]}
    else:
        raise BadRequest(
            "tool_choice: must be auto, required, none or {type: function, function: {name}}",
            code="invalid_tool_choice",
            param="tool_choice",
        )
    if not has_tools:
        raise BadRequest("tool_choice: requires tools", code="invalid_tool_choice", param="tool_choice")
    return mode


def _generation_config(body: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {}
    for openai_key, gemini_key in _GENERATION_KEYS:
        if body.get(openai_key) is not None:
            config[gemini_key] = body[openai_key]
    for key in ("max_completion_tokens", "max_tokens"):
        value = body.get(key)
        if value is not None:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise BadRequest(f"{key}: must be a positive integer", code="invalid_value", param=key)
            config["maxOutputTokens"] = value
            break
    n = body.get("n")
    if n is not None:
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise BadRequest("n: must be a positive integer", code="invalid_value", param="n")
        if n > 1:
            config["candidateCount"] = n
    stop = body.get("stop")
    if isinstance(stop, str):
        config["stopSequences"] = [stop]
    elif isinstance(stop, list) and all(isinstance(s, str) for s in stop):
        if stop:
            config["stopSequences"] = stop
    elif stop is not None:
        raise BadRequest("stop: must be a string or a list of strings", code="invalid_value", param="stop")
    config.update(_response_format(body))
    thinking = _thinking(body)
    if thinking is not None:
        config["thinkingConfig"] = thinking
    return config


def _response_format(body: dict[str, Any]) -> dict[str, Any]:
    # The shared parser validates as it does for every provider; Gemini then takes
    # JSON natively (no answer tool).
    schema = requested_schema(body.get("response_format"), "google")
    if schema is None:
        return {}
    out: dict[str, Any] = {"responseMimeType": "application/json"}
    if body["response_format"].get("type") == "json_schema" and (body["response_format"].get("json_schema") or {}).get(
        "schema"
    ):
        out["responseSchema"] = gemini_schema(schema, "response_format.json_schema.schema")
    return out


def _thinking(body: dict[str, Any]) -> dict[str, Any] | None:
    effort = body.get("reasoning_effort")
    if effort is not None:
        if effort not in THINKING_BUDGETS:
            raise BadRequest(
                f"reasoning_effort: must be one of {', '.join(THINKING_BUDGETS)}",
                code="invalid_value",
                param="reasoning_effort",
            )
        budget = THINKING_BUDGETS[effort]
        return {"thinkingBudget": budget, "includeThoughts": True} if budget else {"thinkingBudget": 0}
    thinking = body.get("thinking")
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
