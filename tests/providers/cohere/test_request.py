"""OpenAI chat request → Cohere v2 chat request: the pieces the SDK tests do not cover."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest
from gateway.providers.cohere.request import to_chat_request

USER = {"role": "user", "content": "Hi"}


def test_one_strict_tool_among_several_turns_strict_tools_on():
    # Cohere's strict_tools is per request: a client's strict tool must not be loosened.
    tools = [
        {"type": "function", "function": {"name": "loose", "parameters": {"type": "object", "properties": {}}}},
        {"type": "function", "function": {"name": "exact", "strict": True, "parameters": {"type": "object", "properties": {}}}},
    ]
    sent = to_chat_request({"model": "command-a-03-2025", "messages": [USER], "tools": tools})
    assert sent["strict_tools"] is True
    assert "strict_tools" not in to_chat_request({"model": "command-a-03-2025", "messages": [USER], "tools": tools[:1]})


def test_parts_response_format_and_penalties():
    body = {
        "model": "command-a-vision-07-2025",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA", "detail": "low"}},
                ],
            },
        ],
        "response_format": {"type": "json_schema", "json_schema": {"name": "answer", "schema": {"type": "object"}}},
        "frequency_penalty": 0.5,
        "presence_penalty": 0.1,
        "top_k": 40,
        "stop": ["END", "STOP"],
    }
    assert to_chat_request(body) == {
        "model": "command-a-vision-07-2025",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}},
                ],
            },
        ],
        "k": 40,
        "frequency_penalty": 0.5,
        "presence_penalty": 0.1,
        "stop_sequences": ["END", "STOP"],
        "response_format": {"type": "json_object", "json_schema": {"type": "object"}},
    }
    assert to_chat_request({"model": "m", "messages": [USER], "response_format": {"type": "json_object"}})[
        "response_format"
    ] == {"type": "json_object"}


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"n": 2}, "n"),
        (
            {"messages": [{"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}]},
            "messages[0].content[0]",
        ),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"response_format": {"type": "xml"}}, "response_format"),
        ({"model": ""}, "model"),
    ],
)
def test_what_cohere_cannot_take_is_a_400_naming_the_field(change, param):
    with pytest.raises(BadRequest) as caught:
        to_chat_request({"model": "command-a-03-2025", "messages": [USER], **change})
    assert caught.value.param == param
