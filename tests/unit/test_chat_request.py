"""The typed chat request alone: the client's JSON in, typed values or a 400 naming the field out."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest
from gateway.providers.anthropic.request import to_messages_request
from gateway.translate.chat_request import (
    AudioPart,
    FilePart,
    ImagePart,
    Message,
    OtherPart,
    RefusalPart,
    TextPart,
    Tool,
    ToolCall,
    ToolChoice,
    parse_chat_request,
)

pytestmark = pytest.mark.unit

PNG = "iVBORw0KGgo="


def test_a_full_request():
    request = parse_chat_request({
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "text", "text": "Look", "cache_control": {"type": "ephemeral"}},
                {"type": "image_url", "image_url": {"url": f"data:image/png;name=a.png;base64,{PNG}", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "https://x.test/cat.jpg"}},
                {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{PNG}", "filename": "a.pdf"}},
                {"type": "file", "file": {"file_id": "file-1"}},
                {"type": "input_audio", "input_audio": {"data": "AAA=", "format": "wav"}},
                {"type": "hologram"},
            ]},
            {"role": "assistant", "content": [{"type": "refusal", "refusal": "no"}],
             "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}]},
            {"role": "tool", "tool_call_id": "t1", "content": "42"},
        ],
        "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}, "strict": True}}],
        "tool_choice": {"type": "function", "function": {"name": "f"}},
        "parallel_tool_calls": False,
        "response_format": {"type": "json_object"},
        "max_completion_tokens": 50,
        "max_tokens": 9,
        "temperature": 0.5,
        "stop": "END",
        "seed": 7,
        "n": 1,
        "reasoning_effort": "low",
        "stream": True,
        "stream_options": {"include_usage": True},
        "logit_bias": {"1": 2},
    })
    user = request.messages[1].content
    assert user == (
        TextPart("Look", {"type": "ephemeral"}),
        ImagePart("messages[1].content[1]", media_type="image/png", data=PNG, detail="low"),
        ImagePart("messages[1].content[2]", url="https://x.test/cat.jpg"),
        FilePart("messages[1].content[3]", media_type="application/pdf", data=PNG, filename="a.pdf"),
        FilePart("messages[1].content[4]", file_id="file-1"),
        AudioPart("messages[1].content[5]", "AAA=", "wav"),
        OtherPart("messages[1].content[6]", "hologram"),
    )
    assert request.messages[2] == Message(
        "assistant", "messages[2]", (RefusalPart("no"),), (ToolCall("t1", "f", {"a": 1}),)
    )
    assert request.messages[3].tool_call_id == "t1" and request.messages[3].content == "42"
    assert request.tools == (Tool("f", None, {"type": "object"}, True),)
    assert request.tool_choice == ToolChoice("function", "f")
    assert (request.max_tokens, request.max_tokens_field) == (50, "max_completion_tokens")
    assert (request.stop, request.seed, request.stream, request.include_usage) == (("END",), 7, True, True)
    assert request.parallel_tool_calls is False and request.reasoning_effort == "low"
    assert dict(request.extra) == {"logit_bias": {"1": 2}}


@pytest.mark.parametrize(
    "change, param",
    [
        ({"messages": []}, "messages"),
        ({"messages": ["hi"]}, "messages[0]"),
        ({"messages": [{"role": "critic", "content": "x"}]}, "messages[0].role"),
        ({"messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": 3}]}]}, "messages[0].content[0].text"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]},
         "messages[0].content[0].image_url.url"),
        ({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}, "messages[0].content[0].image_url.url"),
        ({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": "x"}}]}]}, "messages[0].content[0].file.file_data"),
        ({"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]}, "messages[0].content[0].file"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1,2]"}}]}]},
         "messages[0].tool_calls[0].function.arguments"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]}, "messages[0].tool_calls[0]"),
        ({"messages": [{"role": "tool", "content": "x"}]}, "messages[0].tool_call_id"),
        ({"tools": [{"type": "function", "function": {}}]}, "tools[0]"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": []}}]}, "tools[0].function.parameters"),
        ({"tool_choice": "sometimes"}, "tool_choice"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_completion_tokens": True}, "max_completion_tokens"),
        ({"stop": {"a": 1}}, "stop"),
        ({"seed": "7"}, "seed"),
        ({"n": 1.5}, "n"),
    ],
)
def test_a_bad_field_is_a_400_naming_its_path(change, param):
    body = {"model": "m", "messages": [{"role": "user", "content": "x"}], **change}
    with pytest.raises(BadRequest) as raised:
        parse_chat_request(body)
    assert (raised.value.status, raised.value.param) == (400, param)
    assert raised.value.message.startswith(param)


def test_anthropic_reads_the_parsed_request():
    request = parse_chat_request({"model": "claude", "messages": [{"role": "user", "content": "x"}], "stop": ["A", "B"], "stream": True})
    assert to_messages_request(request) == {
        "model": "claude", "messages": [{"role": "user", "content": "x"}], "max_tokens": 4096,
        "stream": True, "stop_sequences": ["A", "B"],
    }


@settings(max_examples=200, deadline=None)
@given(st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["role", "content", "type", "text", "image_url", "url", "tool_calls", "function", "name", "arguments", "id", "file", "tool_call_id"]), inner, max_size=4),
    max_leaves=12,
))
def test_any_message_is_parsed_or_refused_with_a_400(message):
    try:
        parse_chat_request({"messages": [message]})
    except BadRequest as error:
        assert error.param and error.param.split("[")[0].split(".")[0] == "messages"


SAME_FOR_EVERY_PROVIDER = [
    {"messages": [{"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1,2]"}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/png,abc"}}]}]},
    {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}]},
    {"messages": [{"role": "tool", "content": "x"}]},
    {"messages": [{"role": "critic", "content": "x"}]},
    {"messages": [{"role": "user", "content": "x"}], "max_tokens": 0},
    {"messages": [{"role": "user", "content": "x"}], "stop": 3},
    {"messages": [{"role": "user", "content": "x"}], "tool_choice": "sometimes"},
    {"messages": [{"role": "user", "content": "x"}], "tools": [{"type": "function", "function": {}}]},
]


@pytest.mark.parametrize("body", SAME_FOR_EVERY_PROVIDER)
def test_every_translating_provider_refuses_the_same_request_the_same_way(body):
    from gateway.providers.bedrock.converse_request import chat_to_converse
    from gateway.providers.cohere.request import to_chat_request as to_cohere_chat
    from gateway.providers.google.request import to_generate_content

    refusals = []
    for translate in (to_messages_request, chat_to_converse, to_generate_content, to_cohere_chat):
        with pytest.raises(BadRequest) as raised:
            translate({"model": "m", **body})
        refusals.append((raised.value.param, raised.value.code, raised.value.message))
    assert refusals[0] == refusals[1] == refusals[2] == refusals[3]


def test_every_translating_provider_takes_a_data_url_with_parameters():
    from gateway.providers.bedrock.converse_request import chat_to_converse
    from gateway.providers.google.request import to_generate_content

    url = f"data:image/png;name=a.png;base64,{PNG}"
    body = {"model": "m", "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}}]}]}
    assert to_messages_request(body)["messages"][0]["content"][0]["source"]["media_type"] == "image/png"
    assert chat_to_converse(body)["messages"][0]["content"][0]["image"]["format"] == "png"
    assert to_generate_content(body)["contents"][0]["parts"][0]["inlineData"]["mimeType"] == "image/png"
    from gateway.providers.cohere.request import to_chat_request as to_cohere_chat

    assert to_cohere_chat(body)["messages"][0]["content"][0]["image_url"]["url"] == f"data:image/png;base64,{PNG}"


def test_a_call_parses_its_body_once():
    from dataclasses import replace

    from multidict import CIMultiDict, CIMultiDictProxy

    from gateway.providers.base import Call

    body = {"model": "m", "messages": [{"role": "user", "content": "x"}]}
    call = Call("POST", "chat/completions", "", CIMultiDictProxy(CIMultiDict()), json=body)
    first = call.chat_request()
    assert call.chat_request() is first  # every target of a fallback reads this one
    overridden = replace(call, json={**body, "temperature": 0.1})  # a target's override_params
    assert overridden.chat_request().temperature == 0.1 and call.chat_request() is first
