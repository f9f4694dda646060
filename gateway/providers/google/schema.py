"""A JSON Schema (as OpenAI clients write them) → Gemini's ``Schema`` object (pure).

Gemini takes "a select subset of an OpenAPI 3.0 schema object" and answers 400
``INVALID_ARGUMENT`` ("Unknown name ...") to any other keyword. So the schema is
rebuilt from the fields Gemini's ``Schema`` reference lists, and the rest is mapped
or left out:

* ``type`` → Gemini's enum names (``OBJECT``, ``STRING``, ...); a list with
  ``"null"`` (``["string", "null"]``) → that type plus ``nullable: true``;
* ``const`` → a one-value ``enum``; ``enum`` values → strings, as Gemini requires;
  ``oneOf`` → ``anyOf``; ``examples`` → the first as ``example``;
* ``$ref`` to ``#/$defs/...`` (or ``definitions``) → the definition, inlined
  (a recursive one stops at :data:`MAX_DEPTH` as a plain object);
* ``format`` only where Gemini accepts it (``enum`` and ``date-time`` for strings,
  ``float``/``double``, ``int32``/``int64``), since the Gemini API refuses others;
* an object with no properties → no ``properties`` key (Gemini refuses an empty map);
* everything else (``additionalProperties``, ``strict``, ``$schema``, ``$id``,
  ``patternProperties``, ``allOf``, ``not``, ``multipleOf``, ...) → left out.
"""

from __future__ import annotations

from typing import Any

from ...errors import BadRequest

MAX_DEPTH = 32

_TYPES = {"string", "number", "integer", "boolean", "array", "object", "null"}
_FORMATS = {
    "STRING": {"enum", "date-time"},
    "NUMBER": {"float", "double"},
    "INTEGER": {"int32", "int64"},
}
# Kept as they are (their values need no mapping).
_PLAIN = ("title", "description", "nullable", "pattern", "minimum", "maximum", "default", "example")
# Counts Gemini takes as int64 (JSON numbers or strings both parse).
_COUNTS = ("minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties")


def gemini_schema(schema: Any, param: str) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise BadRequest(f"{param}: must be a JSON schema object", code="invalid_schema", param=param)
    definitions = {**(schema.get("definitions") or {}), **(schema.get("$defs") or {})}
    return _convert(schema, definitions, param, 0)


def _convert(schema: Any, definitions: dict[str, Any], param: str, depth: int) -> dict[str, Any]:
    if not isinstance(schema, dict):
        raise BadRequest(f"{param}: must be a JSON schema object", code="invalid_schema", param=param)
    if depth > MAX_DEPTH:
        return {"type": "OBJECT"}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = _resolve(ref, definitions, param)
        # Keywords beside $ref (a description, say) refine the definition.
        siblings = {key: value for key, value in schema.items() if key != "$ref"}
        return _convert({**target, **siblings}, definitions, param, depth + 1)

    out: dict[str, Any] = {}
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if k != "null"]
        if len(kinds) != len(kind):
            out["nullable"] = True
        if len(kinds) == 1:
            kind = kinds[0]
        elif kinds:
            # Several types: the Gemini form is anyOf of one type each.
            out["anyOf"] = [_convert({**schema, "type": k}, definitions, param, depth + 1) for k in kinds]
            return out
        else:
            kind = "null"
    if isinstance(kind, str):
        if kind not in _TYPES:
            raise BadRequest(f"{param}: unknown JSON schema type {kind!r}", code="invalid_schema", param=param)
        if kind == "null":
            out["nullable"] = True
        else:
            out["type"] = kind.upper()
    elif kind is None and isinstance(schema.get("properties"), dict):
        out["type"] = "OBJECT"

    for key in _PLAIN:
        if key in schema:
            out[key] = schema[key]
    for key in _COUNTS:
        if isinstance(schema.get(key), int) and not isinstance(schema[key], bool):
            out[key] = str(schema[key])
    if "example" not in out and isinstance(schema.get("examples"), list) and schema["examples"]:
        out["example"] = schema["examples"][0]

    values = [schema["const"]] if "const" in schema else schema.get("enum")
    if isinstance(values, list):
        out["enum"] = [value if isinstance(value, str) else _text(value) for value in values]
        out.setdefault("type", "STRING")
        if out["type"] == "STRING":
            out["format"] = "enum"
    fmt = schema.get("format")
    if isinstance(fmt, str) and "format" not in out and fmt in _FORMATS.get(out.get("type", ""), ()):
        out["format"] = fmt

    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        out["properties"] = {
            name: _convert(value, definitions, f"{param}.properties.{name}", depth + 1)
            for name, value in properties.items()
        }
        required = schema.get("required")
        if isinstance(required, list):
            out["required"] = [name for name in required if name in properties]
            if not out["required"]:
                del out["required"]
        out["propertyOrdering"] = list(properties)
    items = schema.get("items")
    if isinstance(items, dict):
        out["items"] = _convert(items, definitions, f"{param}.items", depth + 1)
    alternatives = schema.get("anyOf", schema.get("oneOf"))
    if isinstance(alternatives, list) and alternatives:
        converted = []
        for i, alternative in enumerate(alternatives):
            if isinstance(alternative, dict) and alternative.get("type") == "null":
                out["nullable"] = True  # OpenAI's optional-field idiom: anyOf [T, null]
                continue
            converted.append(_convert(alternative, definitions, f"{param}.anyOf[{i}]", depth + 1))
        if len(converted) == 1 and "type" not in out:
            out.update({key: value for key, value in converted[0].items() if key not in out})
        elif converted:
            out["anyOf"] = converted
    return out


def _resolve(ref: str, definitions: dict[str, Any], param: str) -> dict[str, Any]:
    for prefix in ("#/$defs/", "#/definitions/"):
        if ref.startswith(prefix) and isinstance(definitions.get(ref[len(prefix) :]), dict):
            return definitions[ref[len(prefix) :]]
    raise BadRequest(
        f"{param}: $ref {ref!r} must name a definition under $defs in the same schema",
        code="invalid_schema",
        param=param,
    )


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
