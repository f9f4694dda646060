"""OpenAI ``response_format`` for providers without it: a forced "answer" tool.

Anthropic Messages and Bedrock Converse have no portable JSON mode, but every Claude
(and Nova, Mistral Large) model can be forced to call a tool, and a tool's input is
validated against its input schema. So ``json_schema`` becomes a tool
:data:`ANSWER_TOOL` whose input schema is the requested schema, ``json_object`` the
same tool with a schema any JSON object satisfies, and the tool's input comes back to
the client as the message ``content`` (whole answers and streams), with
``finish_reason: stop``. ``text`` (or no ``response_format``) changes nothing.

How it combines with the client's own tools (:func:`answer_tool_for` decides):

* no tools, or ``tool_choice: none``: the answer tool is forced;
* ``tool_choice`` auto (or absent): the model must call a tool, the client's or the
  answer tool (Anthropic ``any``), so a final answer is always the requested JSON;
* ``tool_choice`` required or a named function: the reply is a tool call by the
  client's own request, never text, so there is no answer to format: nothing is added.

Forcing a tool cannot be combined with extended thinking (Anthropic refuses it), so
``response_format`` with ``thinking`` is a 400 here, before anything is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BadRequest
from .chat_request import ChatRequest

ANSWER_TOOL = "json_response"
_ANY_OBJECT: dict[str, Any] = {"type": "object", "additionalProperties": True}


@dataclass(frozen=True)
class AnswerTool:
    """The tool the model must answer through, and whether it is the only choice."""

    schema: dict[str, Any]
    description: str
    forced: bool  # True: tool_choice names it; False: "any tool" among the client's
    name: str = ANSWER_TOOL


def answer_tool_for(request: ChatRequest, provider: str) -> AnswerTool | None:
    """The answer tool this request needs, or None; a 400 for what cannot be honoured."""
    mode = request.tool_choice.mode if request.tool_choice else None
    names = [tool.name for tool in request.tools]
    return _answer_tool(request.response_format, mode, bool(request.tools), names, request.thinking, provider)


def _answer_tool(
    response_format: Any, choice: Any, has_tools: bool, tool_names: list[Any], thinking: Any, provider: str
) -> AnswerTool | None:
    schema = _requested_schema(response_format, provider)
    if schema is None:
        return None
    if has_tools and choice in ("required", "function"):
        return None  # the reply is one of the client's tool calls: nothing to format
    if isinstance(thinking, dict) and thinking.get("type") == "enabled":
        raise BadRequest(
            f"response_format: {provider} answers in a format through a forced tool call, "
            "which extended thinking does not allow; leave out thinking or response_format",
            code="unsupported_parameter",
            param="response_format",
        )
    if ANSWER_TOOL in tool_names:
        raise BadRequest(
            f"tools: the name {ANSWER_TOOL!r} is reserved for response_format on {provider}",
            code="invalid_tools",
            param="tools",
        )
    description = "Give your final answer by calling this tool; its input is the answer."
    spec = (response_format or {}).get("json_schema")
    if isinstance(spec, dict) and isinstance(spec.get("description"), str):
        description += " " + spec["description"]
    return AnswerTool(schema, description, forced=not has_tools or choice == "none")


def requested_schema(response_format: Any, provider: str) -> dict[str, Any] | None:
    """The JSON schema ``response_format`` asks for (any object for ``json_object``),
    None for ``text``; a 400 for what no provider can honour. For providers with a
    native JSON mode (Gemini), which need no answer tool."""
    return _requested_schema(response_format, provider)


def _requested_schema(response_format: Any, provider: str) -> dict[str, Any] | None:
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return _ANY_OBJECT
    if kind != "json_schema":
        raise BadRequest(
            f"response_format.type: {kind!r} is not supported by {provider} (text, json_object, json_schema)",
            code="invalid_response_format",
            param="response_format",
        )
    spec = response_format.get("json_schema")
    if not isinstance(spec, dict):
        raise BadRequest(
            "response_format.json_schema: required, {name, schema}",
            code="invalid_response_format",
            param="response_format.json_schema",
        )
    schema = spec.get("schema")
    if schema is None:
        return _ANY_OBJECT
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        # A tool's input is always an object, as OpenAI's structured outputs require too.
        raise BadRequest(
            "response_format.json_schema.schema: must be a JSON schema of type object",
            code="invalid_response_format",
            param="response_format.json_schema.schema",
        )
    return {"type": "object", **schema}
