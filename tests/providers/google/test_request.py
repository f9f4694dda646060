"""OpenAI chat request → Gemini GenerateContentRequest: units, no network."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest
from gateway.providers.google.request import to_generate_content
from tests.fakes.google import Invalid, check_generate


def translate(**body) -> dict:
    body.setdefault("model", "gemini-2.5-flash")
    out = to_generate_content(body)
    check_generate(out)  # every translation is a request the fake (and Gemini) accepts
    return out


def user(content) -> dict:
    return {"role": "user", "content": content}


def test_system_and_developer_become_the_system_instruction():
    out = translate(
        messages=[
            {"role": "system", "content": "One."},
            user("Hi"),
            {"role": "developer", "content": [{"type": "text", "text": "Two."}]},
        ]
    )
    assert out["systemInstruction"] == {"parts": [{"text": "One."}, {"text": "Two."}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "Hi"}]}]


def test_roles_are_user_and_model_and_turns_merge_around_empty_ones():
    out = translate(
        messages=[
            user("a"),
            {"role": "assistant", "content": ""},
            user([{"type": "text", "text": ""}, {"type": "text", "text": "b"}]),
            {"role": "assistant", "content": "c"},
            {"role": "assistant", "content": [{"type": "text", "text": "d"}]},
        ]
    )
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "a"}, {"text": "b"}]},
        {"role": "model", "parts": [{"text": "c"}, {"text": "d"}]},
    ]


def test_inline_data_file_and_audio():
    out = translate(
        messages=[
            user(
                [
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER"}},
                    {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
                    {"type": "image_url", "image_url": "http://example.com/a.png?size=2"},
                ]
            )
        ]
    )
    assert out["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}},
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGR"}},
        {"fileData": {"fileUri": "http://example.com/a.png?size=2", "mimeType": "image/png"}},
    ]


@pytest.mark.parametrize(
    "part, param",
    [
        ({"type": "image_url", "image_url": {"url": "data:image/png,notbase64"}}, "messages[0].content[0].image_url.url"),
        ({"type": "file", "file": {"file_id": "file-1"}}, "messages[0].content[0].file"),
        ({"type": "input_audio", "input_audio": {"data": "x", "format": "flac"}}, "messages[0].content[0].input_audio"),
        ({"type": "video", "video": {}}, "messages[0].content[0]"),
    ],
)
def test_unusable_parts_are_a_400_naming_them(part, param):
    with pytest.raises(BadRequest) as caught:
        translate(messages=[user([part])])
    assert caught.value.param == param


def test_tool_calls_and_results_pair_by_name_through_the_ids():
    out = translate(
        messages=[
            user("Weather?"),
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_a.sig.U0lH",
                        "type": "function",
                        "function": {"name": "weather", "arguments": '{"city": "Paris"}'},
                    },
                    {
                        "id": "other-provider-id",
                        "type": "function",
                        "function": {"name": "clock", "arguments": ""},
                        "extra_content": {"google": {"thought_signature": "RVhU"}},
                    },
                ],
            },
            {"role": "tool", "tool_call_id": "other-provider-id", "content": "[1, 2]"},
            {"role": "tool", "tool_call_id": "call_a.sig.U0lH", "content": [{"type": "text", "text": '{"temp": 21}'}]},
        ]
    )
    assert out["contents"][1] == {
        "role": "model",
        "parts": [
            {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "U0lH"},
            {"functionCall": {"name": "clock", "args": {}}, "thoughtSignature": "RVhU"},
        ],
    }
    assert out["contents"][2] == {
        "role": "user",
        "parts": [
            {"functionResponse": {"name": "clock", "response": {"result": [1, 2]}}},
            {"functionResponse": {"name": "weather", "response": {"temp": 21}}},
        ],
    }


def test_a_result_for_an_unknown_call_and_bad_arguments_are_400s():
    with pytest.raises(BadRequest) as caught:
        translate(messages=[user("x"), {"role": "tool", "tool_call_id": "call_x", "content": "1"}])
    assert caught.value.param == "messages[1].tool_call_id"
    call = {"id": "c", "type": "function", "function": {"name": "f", "arguments": "[1]"}}
    with pytest.raises(BadRequest) as caught:
        translate(messages=[user("x"), {"role": "assistant", "tool_calls": [call]}])
    assert caught.value.param == "messages[1].tool_calls[0].function.arguments"


TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "W",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}}},
]


@pytest.mark.parametrize(
    "choice, config",
    [
        (None, None),
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        ("none", {"mode": "NONE"}),
        ({"type": "function", "function": {"name": "clock"}}, {"mode": "ANY", "allowedFunctionNames": ["clock"]}),
    ],
)
def test_tools_and_tool_choice(choice, config):
    body = {"messages": [user("x")], "tools": TOOLS}
    if choice is not None:
        body["tool_choice"] = choice
    out = translate(**body)
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "weather",
                    "description": "W",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {"city": {"type": "STRING"}},
                        "propertyOrdering": ["city"],
                    },
                },
                {"name": "clock"},  # no parameters: Gemini refuses an empty properties map
            ]
        }
    ]
    assert out.get("toolConfig") == (None if config is None else {"functionCallingConfig": config})


def test_generation_config():
    out = translate(
        messages=[user("x")],
        temperature=0,
        top_p=0.9,
        top_k=4,
        seed=1,
        presence_penalty=0.5,
        frequency_penalty=0.25,
        max_tokens=10,
        n=3,
        stop="STOP",
        reasoning_effort="none",
        user="u-1",
        logprobs=False,
    )
    assert out["generationConfig"] == {
        "temperature": 0,
        "topP": 0.9,
        "topK": 4,
        "seed": 1,
        "presencePenalty": 0.5,
        "frequencyPenalty": 0.25,
        "maxOutputTokens": 10,
        "candidateCount": 3,
        "stopSequences": ["STOP"],
        "thinkingConfig": {"thinkingBudget": 0},
    }


@pytest.mark.parametrize("effort, budget", [("minimal", 512), ("low", 1024), ("medium", 8192), ("high", 24576)])
def test_reasoning_effort_sets_a_budget_and_asks_for_thoughts(effort, budget):
    out = translate(messages=[user("x")], reasoning_effort=effort)
    assert out["generationConfig"]["thinkingConfig"] == {"thinkingBudget": budget, "includeThoughts": True}


def test_json_object_and_json_schema():
    assert translate(messages=[user("x")], response_format={"type": "json_object"})["generationConfig"] == {
        "responseMimeType": "application/json"
    }
    assert "generationConfig" not in translate(messages=[user("x")], response_format={"type": "text"})
    with pytest.raises(BadRequest) as caught:
        translate(messages=[user("x")], response_format={"type": "yaml"})
    assert caught.value.param == "response_format"


@pytest.mark.parametrize(
    "body, param",
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"role": "function", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "system", "content": "only a system prompt"}]}, "messages"),
        ({"messages": [user("x")], "n": 0}, "n"),
        ({"messages": [user("x")], "max_completion_tokens": -1}, "max_completion_tokens"),
        ({"messages": [user("x")], "stop": 3}, "stop"),
        ({"messages": [user("x")], "reasoning_effort": "max"}, "reasoning_effort"),
        ({"messages": [user("x")], "tool_choice": "required"}, "tool_choice"),
        ({"messages": [user("x")], "tools": TOOLS, "tool_choice": "sometimes"}, "tool_choice"),
        ({"model": "", "messages": [user("x")]}, "model"),
    ],
)
def test_invalid_requests_are_400s_naming_the_field(body, param):
    with pytest.raises(BadRequest) as caught:
        translate(**body)
    assert caught.value.param == param


def test_the_fake_refuses_what_gemini_refuses():
    # The fake's checks are the ground these units stand on: they must bite.
    with pytest.raises(Invalid, match="Unknown name"):
        check_generate({"contents": [{"role": "user", "parts": [{"text": "x"}]}], "temperature": 1})
    with pytest.raises(Invalid, match="valid role"):
        check_generate({"contents": [{"role": "assistant", "parts": [{"text": "x"}]}]})
    with pytest.raises(Invalid, match="Name cannot be empty"):
        check_generate({"contents": [{"role": "user", "parts": [{"functionResponse": {"response": {}}}]}]})
    with pytest.raises(Invalid, match="non-empty for OBJECT"):
        check_generate(
            {
                "contents": [{"role": "user", "parts": [{"text": "x"}]}],
                "tools": [
                    {"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT", "properties": {}}}]}
                ],
            }
        )
    with pytest.raises(Invalid, match='Unknown name "additionalProperties"'):
        check_generate(
            {
                "contents": [{"role": "user", "parts": [{"text": "x"}]}],
                "generationConfig": {"responseSchema": {"type": "OBJECT", "additionalProperties": False}},
            }
        )
