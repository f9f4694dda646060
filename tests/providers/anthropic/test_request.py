"""Golden tests: OpenAI chat request → Anthropic Messages request."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest
from gateway.providers.anthropic.request import DEFAULT_MAX_TOKENS, to_messages_request

from .samples import PNG_B64, WEATHER_TOOL


def test_plain_chat_with_system_and_sampling_parameters():
    body = {
        "model": "claude-sonnet-4-5",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
        ],
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop": "END",
        "user": "user-42",
        "stream": True,
        "stream_options": {"include_usage": True},
        "seed": 7,
        "presence_penalty": 0.5,
    }
    assert to_messages_request(body) == {
        "model": "claude-sonnet-4-5",
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_tokens": 100,
        "temperature": 0.2,
        "top_p": 0.9,
        "top_k": 40,
        "stop_sequences": ["END"],
        "metadata": {"user_id": "user-42"},
        "stream": True,
    }


def test_several_system_and_developer_messages_become_text_blocks():
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}}]},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": "B"},
        ],
    }
    out = to_messages_request(body)
    assert out["system"] == [
        {"type": "text", "text": "A", "cache_control": {"type": "ephemeral"}},
        {"type": "text", "text": "B"},
    ]
    assert out["messages"] == [{"role": "user", "content": "Hi"}]


def test_max_tokens_default_and_precedence():
    base = {"model": "m", "messages": [{"role": "user", "content": "Hi"}]}
    assert to_messages_request(base)["max_tokens"] == DEFAULT_MAX_TOKENS
    assert to_messages_request({**base, "max_tokens": 5, "max_completion_tokens": 9})["max_tokens"] == 9
    thinking = {"type": "enabled", "budget_tokens": 2000}
    out = to_messages_request({**base, "thinking": thinking})
    assert out["thinking"] == thinking
    assert out["max_tokens"] == DEFAULT_MAX_TOKENS + 2000


def test_images_from_data_urls_and_http_urls():
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Compare"},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}", "detail": "low"}},
                    {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
                ],
            }
        ],
    }
    assert to_messages_request(body)["messages"] == [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}},
            ],
        }
    ]


def test_pdf_file_part_becomes_a_document_and_data_url_parameters_are_allowed():
    body = {
        "model": "m",
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "file", "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBERi0="}},
                    {"type": "image_url", "image_url": {"url": f"data:image/png;name=x.png;base64,{PNG_B64}"}},
                ],
            }
        ],
    }
    assert to_messages_request(body)["messages"][0]["content"] == [
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": "JVBERi0="}},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
    ]


def test_tool_calls_across_two_turns():
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": "Checking.",
                "tool_calls": [
                    {"id": "toolu_1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'}},
                    {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "toolu_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "25C"}]},
            {"role": "user", "content": "Thanks, and which is warmer?"},
        ],
        "tools": [WEATHER_TOOL],
        "tool_choice": "auto",
    }
    out = to_messages_request(body)
    assert out["messages"] == [
        {"role": "user", "content": "Weather in Paris and Rome?"},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Checking."},
                {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}},
                {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {"city": "Rome"}},
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "18C"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "25C"}]},
                {"type": "text", "text": "Thanks, and which is warmer?"},
            ],
        },
    ]
    assert out["tools"] == [
        {
            "name": "get_weather",
            "description": "Weather in a city",
            "input_schema": WEATHER_TOOL["function"]["parameters"],
        }
    ]
    assert out["tool_choice"] == {"type": "auto"}


def test_assistant_tool_call_without_text_and_without_arguments():
    body = {
        "model": "m",
        "messages": [
            {"role": "user", "content": "Now?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "toolu_9", "type": "function", "function": {"name": "now", "arguments": ""}}],
            },
            {"role": "tool", "tool_call_id": "toolu_9", "content": "noon"},
        ],
        "tools": [{"type": "function", "function": {"name": "now"}}],
    }
    out = to_messages_request(body)
    assert out["messages"][1]["content"] == [{"type": "tool_use", "id": "toolu_9", "name": "now", "input": {}}]
    assert out["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


@pytest.mark.parametrize(
    "choice, expected",
    [
        ("auto", {"type": "auto"}),
        ("required", {"type": "any"}),
        ("none", {"type": "none"}),
        ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
    ],
)
def test_tool_choice(choice, expected):
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL], "tool_choice": choice}
    assert to_messages_request(body)["tool_choice"] == expected


def test_parallel_tool_calls_false_disables_parallel_tool_use():
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL], "parallel_tool_calls": False}
    assert to_messages_request(body)["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}



def test_tool_choice_none_never_carries_disable_parallel_tool_use():
    # Anthropic's {"type": "none"} takes no other field.
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], "tools": [WEATHER_TOOL], "tool_choice": "none",
            "parallel_tool_calls": False}
    assert to_messages_request(body)["tool_choice"] == {"type": "none"}

@pytest.mark.parametrize(
    "body, param",
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "m", "messages": []}, "messages"),
        ({"model": "m", "messages": [{"role": "critic", "content": "x"}]}, "messages[0].role"),
        ({"model": "m", "messages": [{"role": "user", "content": [{"type": "input_audio"}]}]}, "messages[0].content[0]"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]},
            "messages[0].content[0].image_url.url",
        ),
        ({"model": "m", "messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-1"}}]}]},
            "messages[0].content[0].file",
        ),
        (
            {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]},
            "messages[0].content[0].image_url.url",
        ),
        (
            {
                "model": "m",
                "messages": [
                    {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{oops"}}]}
                ],
            },
            "messages[0].tool_calls[0].function.arguments",
        ),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "max_tokens": 0}, "max_tokens"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "n": 2}, "n"),
        ({"model": "m", "messages": [{"role": "user", "content": "x"}], "stop": {"a": 1}}, "stop"),
    ],
)
def test_bad_requests_name_the_field(body, param):
    with pytest.raises(BadRequest) as raised:
        to_messages_request(body)
    assert raised.value.status == 400
    assert raised.value.param == param
