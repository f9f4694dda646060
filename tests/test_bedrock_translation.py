"""Golden tests of the Bedrock translations, both ways, and of the stream translators."""

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
from gateway.providers.bedrock.embeddings import embeddings_request, embeddings_response
from gateway.providers.bedrock.errors import AnthropicShapedError, frame_error, upstream_error
from gateway.providers.bedrock.messages import converse_to_message, messages_to_converse
from gateway.providers.bedrock.messages_stream import ConverseMessagesStream
from gateway.streaming.eventstream import Frame
from tests.fakes.bedrock import Script, stream_frames
from tests.fakes.eventstream import encode_frame, event_frame, exception_frame

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-image-").decode()
USAGE = {"inputTokens": 30, "outputTokens": 20, "totalTokens": 60, "cacheReadInputTokens": 8, "cacheWriteInputTokens": 2}


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


def test_tool_choice_none_drops_tools_unless_the_conversation_used_them():
    tools = [{"type": "function", "function": {"name": "f"}}]
    plain = {"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": "none"}
    assert "toolConfig" not in chat_to_converse(plain)
    used = {
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "a", "content": "ok"},
        ],
        "tools": tools,
        "tool_choice": "none",
    }
    assert chat_to_converse(used)["toolConfig"] == {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object", "properties": {}}}}}]}


@pytest.mark.parametrize(
    "message, param",
    [
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "https://x/y.png"}}]}, "messages[0].content[0]"),
        ({"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:image/tiff;base64,AAAA"}}]}, "messages[0].content[0]"),
        ({"role": "user", "content": [{"type": "input_audio", "input_audio": {}}]}, "messages[0].content[0]"),
        ({"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{oops"}}]}, "messages[0].tool_calls[0]"),
        ({"role": "tool", "content": "x"}, "messages[0]"),
        ({"role": "function", "content": "x"}, "messages[0]"),
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

SCRIPT = Script(
    [
        {"reasoningContent": {"reasoningText": {"text": "hmm ok", "signature": "sig1"}}},
        {"text": "Hello world"},
        {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}}},
    ],
    stop_reason="tool_use",
    usage=USAGE,
)
STREAM = b"".join(stream_frames(SCRIPT))


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
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)])]
    assert chat_deltas(chunks) == chat_deltas([STREAM])


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


@pytest.mark.parametrize(
    "name, status",
    [
        ("throttlingException", 429),
        ("validationException", 400),
        ("modelStreamErrorException", 424),
        ("serviceUnavailableException", 503),
        ("internalServerException", 500),
        ("modelTimeoutException", 408),
        ("somethingNewException", 502),
    ],
)
def test_exception_frame_status(name, status):
    frame = Frame({":message-type": "exception", ":exception-type": name}, b'{"message":"m"}')
    assert frame_error(frame).status == status


def test_error_frame_uses_its_headers():
    frame = Frame({":message-type": "error", ":error-code": "InternalFailure", ":error-message": "boom"}, b"")
    error = frame_error(frame)
    assert (error.status, error.code, error.message) == (502, "InternalFailure", "bedrock: boom")


def test_http_error_body_to_openai_shape():
    headers = {"x-amzn-ErrorType": "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"}
    body = orjson.loads(upstream_error(400, headers, b'{"message":"Malformed input request"}').body())
    assert body["error"] == {
        "message": "bedrock: Malformed input request",
        "type": "invalid_request_error",
        "param": None,
        "code": "ValidationException",
    }


# Anthropic Messages -------------------------------------------------------------------


def test_messages_request_golden():
    body = {
        "model": "m",
        "max_tokens": 512,
        "system": [{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                ],
            },
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "hmm", "signature": "s1"},
                    {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}},
                ],
            },
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "boom", "is_error": True}]},
        ],
        "stop_sequences": ["END"],
        "top_k": 5,
        "tools": [{"name": "weather", "description": "w", "input_schema": {"type": "object"}}],
        "tool_choice": {"type": "any"},
    }
    assert messages_to_converse(body) == {
        "system": [{"text": "Be brief."}],
        "messages": [
            {"role": "user", "content": [{"text": "Look"}, {"image": {"format": "png", "source": {"bytes": PNG}}}]},
            {
                "role": "assistant",
                "content": [
                    {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s1"}}},
                    {"toolUse": {"toolUseId": "t1", "name": "weather", "input": {"city": "Paris"}}},
                ],
            },
            {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": "boom"}], "status": "error"}}]},
        ],
        "inferenceConfig": {"maxTokens": 512, "stopSequences": ["END"]},
        "toolConfig": {
            "tools": [{"toolSpec": {"name": "weather", "description": "w", "inputSchema": {"json": {"type": "object"}}}}],
            "toolChoice": {"any": {}},
        },
        "additionalModelRequestFields": {"top_k": 5},
    }


def test_messages_response_golden():
    answer = {"output": {"message": {"content": SCRIPT.content}}, "stopReason": "tool_use", "usage": USAGE}
    message = orjson.loads(converse_to_message(orjson.dumps(answer), "m"))
    assert message["content"] == [
        {"type": "thinking", "thinking": "hmm ok", "signature": "sig1"},
        {"type": "text", "text": "Hello world"},
        {"type": "tool_use", "id": "t1", "name": "weather", "input": {"city": "Paris"}},
    ]
    assert message["stop_reason"] == "tool_use"
    assert message["usage"] == {"input_tokens": 30, "output_tokens": 20, "cache_creation_input_tokens": 2, "cache_read_input_tokens": 8}


def named_events(data: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in data.strip().split(b"\n\n"):
        name_line, data_line = block.split(b"\n")
        payload = orjson.loads(data_line[6:])
        assert name_line[7:].decode() == payload["type"]
        events.append((payload["type"], payload))
    return events


def test_messages_stream_golden():
    translator = ConverseMessagesStream("m")
    events = named_events(translator.feed(STREAM) + translator.close())
    summary = [
        (name, p.get("index"), (p.get("content_block") or p.get("delta") or {}).get("type")) for name, p in events
    ]
    assert summary == [
        ("message_start", None, None),
        ("content_block_start", 0, "thinking"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "thinking_delta"),
        ("content_block_delta", 0, "signature_delta"),
        ("content_block_stop", 0, None),
        ("content_block_start", 1, "text"),
        ("content_block_delta", 1, "text_delta"),
        ("content_block_delta", 1, "text_delta"),
        ("content_block_stop", 1, None),
        ("content_block_start", 2, "tool_use"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_delta", 2, "input_json_delta"),
        ("content_block_stop", 2, None),
        ("message_delta", None, None),
        ("message_stop", None, None),
    ]
    delta = events[-2][1]
    assert delta["delta"] == {"stop_reason": "tool_use", "stop_sequence": None}
    assert delta["usage"]["output_tokens"] == 20 and delta["usage"]["cache_read_input_tokens"] == 8


def test_messages_stream_errors_in_anthropic_shape():
    translator = ConverseMessagesStream("m")
    translator.feed(stream_frames(SCRIPT)[0])
    with pytest.raises(AnthropicShapedError) as caught:
        translator.close()
    assert caught.value.sse_event().startswith(b"event: error\ndata: ")
    assert orjson.loads(caught.value.sse_event().split(b"data: ")[1])["error"]["type"] == "api_error"
    with pytest.raises(AnthropicShapedError) as caught:
        ConverseMessagesStream("m").feed(exception_frame("throttlingException", "slow"))
    assert caught.value.status == 429
    assert orjson.loads(caught.value.body()) == {"type": "error", "error": {"type": "rate_limit_error", "message": "bedrock: slow"}}


def test_unknown_events_are_tolerated():
    translator = ConverseChatStream("m", include_usage=False)
    future = encode_frame({":message-type": "event", ":event-type": "somethingNew"}, b'{"x":1}')
    out = translator.feed(future + b"".join(stream_frames(Script([{"text": "ok"}]))))
    assert b'"content":"o"' in out and out.endswith(b"data: [DONE]\n\n")
    assert event_frame  # the helper used by stream_frames


# Embeddings -------------------------------------------------------------------------


def test_embeddings_requests():
    assert embeddings_request({"input": ["hi"], "dimensions": 256}, "amazon.titan-embed-text-v2:0") == {"inputText": "hi", "dimensions": 256}
    assert embeddings_request({"input": ["a", "b"], "input_type": "search_query"}, "cohere.embed-multilingual-v3") == {
        "texts": ["a", "b"],
        "input_type": "search_query",
    }
    with pytest.raises(BadRequest, match="one text per request"):
        embeddings_request({"input": ["a", "b"]}, "amazon.titan-embed-text-v2:0")
    with pytest.raises(BadRequest, match="not a Bedrock embedding model"):
        embeddings_request({"input": "a"}, "anthropic.claude-v2")
    with pytest.raises(BadRequest, match="a string or a non-empty list"):
        embeddings_request({"input": [1, 2, 3]}, "cohere.embed-english-v3")


def test_embeddings_response_cohere_typed_and_base64():
    body = orjson.dumps({"embeddings": {"float": [[1.0, 2.0]]}, "response_type": "embeddings_by_type"})
    data = orjson.loads(embeddings_response(body, "cohere.embed-english-v3", "base64"))["data"]
    assert base64.b64decode(data[0]["embedding"]) == b"\x00\x00\x80?\x00\x00\x00@"


def messages_summary(chunks: list[bytes]) -> list:
    translator = ConverseMessagesStream("m")
    events = named_events(b"".join(translator.feed(chunk) for chunk in chunks) + translator.close())
    for _, payload in events:
        payload.get("message", {}).pop("id", None)
    return events


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_messages_stream_same_whatever_the_split(cuts):
    points = sorted(set(cuts))
    chunks = [STREAM[a:b] for a, b in zip([0, *points], [*points, len(STREAM)])]
    assert messages_summary(chunks) == messages_summary([STREAM])
