"""JSON Schema → Gemini Schema: keywords Gemini refuses are left out or mapped."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest
from gateway.providers.google.schema import MAX_DEPTH, gemini_schema
from tests.fakes.google import _schema as gemini_accepts


def convert(schema: dict) -> dict:
    out = gemini_schema(schema, "schema")
    gemini_accepts(out, "schema")
    return out


def test_openai_strict_schema_loses_what_gemini_refuses():
    out = convert(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "x",
            "title": "Person",
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "pattern": "^[A-Z]"},
                "age": {"type": "integer", "minimum": 0, "multipleOf": 1},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": True},
                "email": {"type": "string", "format": "email"},
                "born": {"type": "string", "format": "date-time"},
            },
            "required": ["name", "age", "missing"],
            "additionalProperties": False,
            "patternProperties": {"^x": {}},
        }
    )
    assert out == {
        "type": "OBJECT",
        "title": "Person",
        "properties": {
            "name": {"type": "STRING", "pattern": "^[A-Z]", "minLength": "1"},
            "age": {"type": "INTEGER", "minimum": 0},
            "tags": {"type": "ARRAY", "maxItems": "3", "items": {"type": "STRING"}},
            "email": {"type": "STRING"},
            "born": {"type": "STRING", "format": "date-time"},
        },
        "required": ["name", "age"],
        "propertyOrdering": ["name", "age", "tags", "email", "born"],
    }


def test_refs_consts_unions_and_nulls():
    out = convert(
        {
            "type": "object",
            "properties": {
                "unit": {"$ref": "#/$defs/Unit", "description": "which unit"},
                "level": {"const": 3},
                "maybe": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "either": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
                "many": {"type": ["string", "integer", "null"]},
                "flag": {"enum": [True, False]},
            },
            "$defs": {"Unit": {"type": "string", "enum": ["C", "F"]}},
        }
    )
    props = out["properties"]
    assert props["unit"] == {"type": "STRING", "description": "which unit", "enum": ["C", "F"], "format": "enum"}
    assert props["level"] == {"type": "STRING", "enum": ["3"], "format": "enum"}
    assert props["maybe"] == {"nullable": True, "type": "STRING"}
    assert props["either"] == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert props["many"] == {"nullable": True, "anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert props["flag"] == {"type": "STRING", "enum": ["true", "false"], "format": "enum"}


def test_a_recursive_ref_stops_at_the_depth_limit():
    out = convert(
        {
            "type": "object",
            "properties": {"child": {"$ref": "#/definitions/Node"}},
            "definitions": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/definitions/Node"}}}},
        }
    )
    depth = 0
    node = out
    while "properties" in node:
        node = node["properties"]["child"]
        depth += 1
    assert node == {"type": "OBJECT"} and MAX_DEPTH // 2 <= depth <= MAX_DEPTH


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/Nope"}}},
        {"type": "tuple"},
        {"type": "object", "properties": {"a": 1}},
    ],
)
def test_unusable_schemas_are_400s(schema):
    with pytest.raises(BadRequest):
        gemini_schema(schema, "tools[0].function.parameters")
