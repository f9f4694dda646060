"""Golden tests of Anthropic Messages ↔ Converse, plain and streamed (fuzzed at random splits)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.providers.bedrock.errors import AnthropicShapedError
from gateway.providers.bedrock.messages import converse_to_message, messages_to_converse
from gateway.providers.bedrock.messages_stream import ConverseMessagesStream
from tests.fakes.bedrock import stream_frames
from tests.fakes.eventstream import exception_frame
from tests.providers.bedrock.samples import PNG, SCRIPT, STREAM, USAGE, split_at


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
                    {
                        "type": "image",
                        "source": {"type": "base64", "media_type": "image/png", "data": PNG},
                        "cache_control": {"type": "ephemeral", "ttl": "1h"},
                    },
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
        "system": [{"text": "Be brief."}, {"cachePoint": {"type": "default"}}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"text": "Look"},
                    {"image": {"format": "png", "source": {"bytes": PNG}}},
                    {"cachePoint": {"type": "default", "ttl": "1h"}},
                ],
            },
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
        "additionalModelResponseFieldPaths": ["/stop_sequence"],
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



def messages_summary(chunks: list[bytes]) -> list:
    translator = ConverseMessagesStream("m")
    events = named_events(b"".join(translator.feed(chunk) for chunk in chunks) + translator.close())
    for _, payload in events:
        payload.get("message", {}).pop("id", None)
    return events


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_messages_stream_same_whatever_the_split(cuts):
    assert messages_summary(split_at(STREAM, cuts)) == messages_summary([STREAM])



def test_documents():
    pdf = "JVBERi0xLjc="
    body = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf}, "title": "Annual report"},
                    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "plain words"}},
                ],
            }
        ]
    }
    assert messages_to_converse(body)["messages"][0]["content"] == [
        {"document": {"format": "pdf", "name": "Annual report", "source": {"bytes": pdf}}},
        {"document": {"format": "txt", "name": "document", "source": {"bytes": "cGxhaW4gd29yZHM="}}},
    ]
