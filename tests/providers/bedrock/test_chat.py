"""Golden tests of OpenAI chat ↔ Converse, plain and streamed (fuzzed at random splits)."""

from __future__ import annotations

import base64

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest, GatewayError, UpstreamBroken
from gateway.providers.bedrock.converse_request import chat_to_converse
from gateway.providers.bedrock.converse_response import converse_to_chat
from gateway.providers.bedrock.converse_stream import ConverseChatStream
from tests.fakes.bedrock import Script, stream_frames
from tests.fakes.eventstream import encode_frame, event_frame, exception_frame
from tests.providers.bedrock.samples import PNG, SCRIPT, STREAM, USAGE, split_at


def test_chat_request_golden():
    body = {
        "model": "m",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "developer", "content": [{"type": "text", "text": "Use tools."}]},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather here?"},
                    {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{PNG}"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": "t1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}},
                    {"id": "t2", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Oslo"}'}},
                ],
            },
            {"role": "tool", "tool_call_id": "t1", "content": "sunny"},
            {"role": "tool", "tool_call_id": "t2", "content": [{"type": "text", "text": "snow"}]},
            {"role": "user", "content": "And tomorrow?"},
        ],
        "max_completion_tokens": 300,
        "temperature": 0.5,
        "top_p": 0.9,
        "stop": "END",
        "top_k": 40,
        "thinking": {"type": "enabled", "budget_tokens": 1024},
        "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "weather"}},
    }
    assert chat_to_converse(body) == {
        "system": [{"text": "Be brief."}, {"text": "Use tools."}],
        "messages": [
            {"role": "user", "content": [{"text": "Weather here?"}, {"image": {"format": "jpeg", "source": {"bytes": PNG}}}]},
            {
                "role": "assistant",
                "content": [
                    {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}}},
                    {"toolUse": {"toolUseId": "t2", "name": "weather", "input": {"city": "Oslo"}}},
                ],
            },
            {
                "role": "user",
                "content": [
                    {"toolResult": {"toolUseId": "t1", "content": [{"text": "sunny"}]}},
                    {"toolResult": {"toolUseId": "t2", "content": [{"text": "snow"}]}},
                    {"text": "And tomorrow?"},
                ],
            },
        ],
        "inferenceConfig": {"maxTokens": 300, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "weather", "inputSchema": {"json": {"type": "object"}}}}],
            "toolChoice": {"tool": {"name": "weather"}},
        },
        "additionalModelRequestFields": {"top_k": 40, "thinking": {"type": "enabled", "budget_tokens": 1024}},
    }


@pytest.mark.parametrize(
    "choice, expected",
    [("auto", {"auto": {}}), ("required", {"any": {}}), (None, None)],
)
def test_tool_choice(choice, expected):
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "tools": [{"type": "function", "function": {"name": "f", "description": "does f"}}],
        "tool_choice": choice,
    }
    config = chat_to_converse(body)["toolConfig"]
    assert config["tools"][0]["toolSpec"]["description"] == "does f"
    assert config.get("toolChoice") == expected


def test_cache_control_marks_become_cache_points():
    marker = {"type": "ephemeral"}
    body = {
        "messages": [
            {"role": "system", "content": [{"type": "text", "text": "Long rules.", "cache_control": marker}]},
            {"role": "user", "content": [{"type": "text", "text": "Long doc.", "cache_control": marker}, {"type": "text", "text": "Q?"}]},
        ],
        "tools": [{"type": "function", "function": {"name": "f"}, "cache_control": marker}],
    }
    converse = chat_to_converse(body)
    assert converse["system"] == [{"text": "Long rules."}, {"cachePoint": {"type": "default"}}]
    assert converse["messages"][0]["content"] == [{"text": "Long doc."}, {"cachePoint": {"type": "default"}}, {"text": "Q?"}]
    assert converse["toolConfig"]["tools"][1] == {"cachePoint": {"type": "default"}}


def test_tool_choice_none_sends_no_tools_and_history_tool_blocks_as_text():
    tools = [{"type": "function", "function": {"name": "f"}}]
    plain = {"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": "none"}
    assert "toolConfig" not in chat_to_converse(plain)
    used = {
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": '{"n": 1}'}}]},
            {"role": "tool", "tool_call_id": "a", "content": "ok"},
        ],
        "tools": tools,
        "tool_choice": "none",
    }
    converse = chat_to_converse(used)
    # A toolConfig would let the model call f (Converse has no "none" choice).
    assert "toolConfig" not in converse
    assert converse["messages"] == [
        {"role": "user", "content": [{"text": "x"}]},
        {"role": "assistant", "content": [{"text": '[tool call a: f({"n":1})]'}]},
        {"role": "user", "content": [{"text": "[tool result a]"}, {"text": "ok"}]},
    ]


@pytest.mark.parametrize(
    "message, param",
    [
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}, "messages[0].content[0]"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}, "messages[0].content[0]"),
        ({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}, "messages[0].content[0]"),
        ({"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{oops"}}]}, "messages[0].tool_calls[0].function.arguments"),
        ({"role": "tool", "content": "x"}, "messages[0].tool_call_id"),
        ({"role": "function", "content": "x"}, "messages[0].role"),
    ],
)
def test_bad_chat_input_is_a_precise_400(message, param):
    with pytest.raises(BadRequest) as caught:
        chat_to_converse({"messages": [message]})
    assert caught.value.status == 400
    assert caught.value.param == param


def test_chat_response_golden():
    answer = {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "thinking...", "signature": "sig"}}},
                    {"text": "Checking."},
                    {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}}},
                ],
            }
        },
        "stopReason": "tool_use",
        "usage": USAGE,
        "metrics": {"latencyMs": 10},
    }
    completion = orjson.loads(converse_to_chat(orjson.dumps(answer), "model-x"))
    assert completion["object"] == "chat.completion" and completion["model"] == "model-x"
    assert completion["choices"] == [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Checking.",
                "refusal": None,
                "reasoning_content": "thinking...",
                "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "weather", "arguments": '{"city":"Paris"}'}}],
            },
            "logprobs": None,
            "finish_reason": "tool_calls",
        }
    ]
    assert completion["usage"] == {
        "prompt_tokens": 40,
        "completion_tokens": 20,
        "total_tokens": 60,
        "prompt_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 2},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


@pytest.mark.parametrize(
    "stop, finish", [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"), ("guardrail_intervened", "content_filter")]
)
def test_finish_reasons(stop, finish):
    answer = {"output": {"message": {"content": [{"text": "x"}]}}, "stopReason": stop, "usage": {}}
    assert orjson.loads(converse_to_chat(orjson.dumps(answer), "m"))["choices"][0]["finish_reason"] == finish



# Streams ----------------------------------------------------------------------------


def sse_payloads(data: bytes) -> list:
    events = []
    for block in data.split(b"\n\n"):
        if block.startswith(b"data: "):
            raw = block[6:]
            events.append(raw.decode() if raw == b"[DONE]" else orjson.loads(raw))
    return events


def chat_deltas(chunks: list[bytes]) -> list:
    translator = ConverseChatStream("m", include_usage=True)
    out = b"".join(translator.feed(chunk) for chunk in chunks) + translator.close()
    events = sse_payloads(out)
    assert len({e["id"] for e in events if isinstance(e, dict)}) == 1
    return [e if e == "[DONE]" else (e["choices"][0]["delta"] if e["choices"] else e["usage"]) | (
        {"finish": e["choices"][0]["finish_reason"]} if e["choices"] and e["choices"][0]["finish_reason"] else {}
    ) for e in events]


def test_chat_stream_golden():
    assert chat_deltas([STREAM]) == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "hmm"},
        {"reasoning_content": " ok"},
        {"content": "Hello"},
        {"content": " world"},
        {"tool_calls": [{"index": 0, "id": "t1", "type": "function", "function": {"name": "weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]},
        {"finish": "tool_calls"},
        {
            "prompt_tokens": 40,
            "completion_tokens": 20,
            "total_tokens": 60,
            "prompt_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 2},
            "completion_tokens_details": {"reasoning_tokens": 0},
        },
        "[DONE]",
    ]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_chat_stream_same_whatever_the_split(cuts):
    assert chat_deltas(split_at(STREAM, cuts)) == chat_deltas([STREAM])


@pytest.mark.parametrize("keep", [1, 9, 10])  # before messageStop; before metadata
def test_chat_stream_truncated_raises(keep):
    translator = ConverseChatStream("m", include_usage=False)
    out = translator.feed(b"".join(stream_frames(SCRIPT)[:keep]))
    assert b"[DONE]" not in out
    with pytest.raises(UpstreamBroken) as caught:
        translator.close()
    assert caught.value.code == "upstream_truncated"


def test_chat_stream_exception_frame_raises_with_status():
    translator = ConverseChatStream("m", include_usage=False)
    translator.feed(stream_frames(SCRIPT)[0])
    with pytest.raises(GatewayError) as caught:
        translator.feed(exception_frame("validationException", "Input is too long"))
    assert (caught.value.status, caught.value.code, caught.value.type) == (400, "validationException", "invalid_request_error")
    assert "Input is too long" in caught.value.message



def test_unknown_events_are_tolerated():
    translator = ConverseChatStream("m", include_usage=False)
    future = encode_frame({":message-type": "event", ":event-type": "somethingNew"}, b'{"x":1}')
    out = translator.feed(future + b"".join(stream_frames(Script([{"text": "ok"}]))))
    assert b'"content":"o"' in out and out.endswith(b"data: [DONE]\n\n")



def test_file_parts_become_documents():
    pdf = base64.b64encode(b"%PDF-1.7 ...").decode()
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "file", "file": {"filename": "Q3 report_v2.final.pdf", "file_data": f"data:application/pdf;base64,{pdf}"}},
                    {"type": "text", "text": "Summarise."},
                ],
            }
        ]
    }
    assert chat_to_converse(body)["messages"][0]["content"][0] == {
        "document": {"format": "pdf", "name": "Q3 report v2 final", "source": {"bytes": pdf}}
    }
    with pytest.raises(BadRequest, match="not a file id"):
        chat_to_converse({"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_id": "file-abc"}}]}]})
    with pytest.raises(BadRequest, match="documents of type"):
        chat_to_converse(
            {"messages": [{"role": "user", "content": [{"type": "file", "file": {"file_data": "data:application/zip;base64,AAAA"}}]}]}
        )


def test_answer_tool_stream_becomes_content_and_text_is_left_out():
    script = Script([{"text": "Sure:"}, {"toolUse": {"toolUseId": "j", "name": "json_response", "input": {"a": [1]}}}], stop_reason="tool_use")
    translator = ConverseChatStream("m", include_usage=False, answer_tool="json_response")
    events = sse_payloads(b"".join(translator.feed(frame) for frame in stream_frames(script)) + translator.close())
    choices = [e["choices"][0] for e in events if isinstance(e, dict)]
    assert "".join(c["delta"].get("content") or "" for c in choices) == '{"a":[1]}'
    assert not any("tool_calls" in c["delta"] for c in choices)
    assert choices[-1]["finish_reason"] == "stop"


def test_answer_tool_stream_without_input_pieces_is_an_empty_object():
    frames = [
        event_frame("messageStart", {"role": "assistant"}),
        event_frame("contentBlockStart", {"contentBlockIndex": 0, "start": {"toolUse": {"toolUseId": "j", "name": "json_response"}}}),
        event_frame("contentBlockStop", {"contentBlockIndex": 0}),
        event_frame("messageStop", {"stopReason": "tool_use"}),
        event_frame("metadata", {"usage": USAGE}),
    ]
    translator = ConverseChatStream("m", include_usage=False, answer_tool="json_response")
    events = sse_payloads(b"".join(translator.feed(frame) for frame in frames) + translator.close())
    assert "".join(e["choices"][0]["delta"].get("content") or "" for e in events if isinstance(e, dict)) == "{}"


def test_answer_tool_whole_answer_is_the_content():
    answer = {
        "output": {"message": {"content": [{"text": "Sure:"}, {"toolUse": {"toolUseId": "j", "name": "json_response", "input": {"a": 1}}}]}},
        "stopReason": "tool_use",
        "usage": USAGE,
    }
    choice = orjson.loads(converse_to_chat(orjson.dumps(answer), "m", "json_response"))["choices"][0]
    assert (choice["message"]["content"], choice["finish_reason"]) == ('{"a":1}', "stop")
    assert "tool_calls" not in choice["message"]
