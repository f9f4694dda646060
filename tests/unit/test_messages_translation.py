"""The /v1/messages translation for providers of another protocol, alone (no sockets):
the Anthropic request parser, the block numbering, and the composed stream
translators fed upstream bytes split at every kind of boundary (Hypothesis)."""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.errors import BadRequest, GatewayError, UpstreamBroken
from gateway.providers.google.messages import gemini_messages_translator
from gateway.translate.chat_request import ImagePart, TextPart
from gateway.translate.messages_answer import MessagesTranslator
from gateway.translate.messages_request import parse_messages_request
from gateway.translate.openai_answer import OpenAIChunkEvents, completion_events, upstream_error

pytestmark = pytest.mark.unit


def openai_translator(stop: tuple[str, ...] = ()) -> MessagesTranslator:
    return MessagesTranslator(
        "gpt-test", upstream_error, lambda body: completion_events(body, stop), lambda: OpenAIChunkEvents(stop)
    )


def chunk(delta: dict, finish: str | None = None, **extra) -> bytes:
    payload = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-test",
               "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}
    return b"data: " + orjson.dumps(payload) + b"\n\n"


OPENAI_STREAM = b"".join(
    [
        chunk({"role": "assistant", "content": ""}),
        chunk({"reasoning_content": "Two cities, "}),
        chunk({"reasoning_content": "two calls."}),
        chunk({"content": "Let me check "}),
        chunk({"content": "the weather \u00e9t\u00e9 \U0001f600."}),
        chunk({"tool_calls": [{"index": 0, "id": "call_a", "type": "function", "function": {"name": "weather", "arguments": ""}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city":'}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": ' "Paris"}'}}]}),
        chunk({"tool_calls": [{"index": 1, "id": "call_b", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Oslo"}'}}]}),
        b": keep-alive\n\n",
        chunk({}, "tool_calls"),
        b'data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"gpt-test","choices":[],'
        b'"usage":{"prompt_tokens":12,"completion_tokens":30,"total_tokens":42,"prompt_tokens_details":{"cached_tokens":2}}}\n\n',
        b"data: [DONE]\n\n",
    ]
)


def gemini_event(payload: dict) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"


GEMINI_STREAM = b"".join(
    [
        gemini_event({"candidates": [{"content": {"role": "model", "parts": [{"text": "Hmm.", "thought": True}]}}],
                      "responseId": "r1", "modelVersion": "gemini-test"}),
        gemini_event({"candidates": [{"content": {"role": "model", "parts": [{"text": "Sunny "}]}}], "responseId": "r1"}),
        gemini_event({"candidates": [{"content": {"role": "model", "parts": [{"text": "in Paris."}]}, "finishReason": "STOP"}],
                      "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 4, "thoughtsTokenCount": 2},
                      "responseId": "r1"}),
    ]
)


def run(translator, pieces: list[bytes]) -> bytes:
    stream = translator.stream_translator()
    return b"".join([stream.feed(piece) for piece in pieces]) + stream.close()


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(cut, len(data)) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def named_events(body: bytes) -> list[tuple[str, dict]]:
    events = []
    for block in body.decode().split("\n\n"):
        if block:
            lines = dict(line.split(": ", 1) for line in block.split("\n"))
            events.append((lines["event"], orjson.loads(lines["data"])))
    return events


def check_anthropic_order(events: list[tuple[str, dict]]) -> None:
    """The grammar of Anthropic's stream: message_start, whole blocks in index order,
    message_delta, message_stop."""
    names = [name for name, _ in events]
    assert names[0] == "message_start" and names[-2:] == ["message_delta", "message_stop"]
    open_index, next_index = None, 0
    for name, data in events[1:-2]:
        if name == "content_block_start":
            assert open_index is None and data["index"] == next_index
            open_index, next_index = data["index"], next_index + 1
        elif name == "content_block_delta":
            assert data["index"] == open_index
        else:
            assert name == "content_block_stop" and data["index"] == open_index
            open_index = None
    assert open_index is None


def test_openai_stream_translates_to_anthropic_events():
    events = named_events(run(openai_translator(), [OPENAI_STREAM]))
    check_anthropic_order(events)
    starts = [data["content_block"] for name, data in events if name == "content_block_start"]
    assert starts == [
        {"type": "thinking", "thinking": "", "signature": ""},
        {"type": "text", "text": ""},
        {"type": "tool_use", "id": "call_a", "name": "weather", "input": {}},
        {"type": "tool_use", "id": "call_b", "name": "weather", "input": {}},
    ]
    json_pieces = [data["delta"]["partial_json"] for name, data in events if data.get("delta", {}).get("type") == "input_json_delta"]
    assert json_pieces == ['{"city":', ' "Paris"}', '{"city": "Oslo"}']
    assert events[-2][1] == {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"input_tokens": 10, "output_tokens": 30, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 2},
    }


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(OPENAI_STREAM) - 1), max_size=12))
def test_openai_stream_any_split_gives_the_same_events(cuts):
    whole = run(openai_translator(), [OPENAI_STREAM])
    assert run(openai_translator(), split(OPENAI_STREAM, cuts)) == whole


@settings(max_examples=150, deadline=None)
@given(cuts=st.lists(st.integers(min_value=1, max_value=len(GEMINI_STREAM) - 1), max_size=12))
def test_gemini_stream_any_split_gives_the_same_events(cuts):
    whole = run(gemini_messages_translator("gemini-test"), [GEMINI_STREAM])
    check_anthropic_order(named_events(whole))
    assert run(gemini_messages_translator("gemini-test"), split(GEMINI_STREAM, cuts)) == whole


def test_openai_stream_cut_before_its_finish_is_an_error():
    stream = openai_translator().stream_translator()
    stream.feed(OPENAI_STREAM[: OPENAI_STREAM.index(b'"finish_reason":"tool_calls"')])
    with pytest.raises(GatewayError) as raised:
        stream.close()
    assert raised.value.status == UpstreamBroken.status
    assert b'"type":"error"' in raised.value.sse_event()  # told in Anthropic's shape


def test_openai_stream_without_done_but_finished_is_complete():
    events = named_events(run(openai_translator(), [OPENAI_STREAM.replace(b"data: [DONE]\n\n", b"")]))
    check_anthropic_order(events)


def test_whole_answer_with_refusal_and_stop_sequence():
    body = orjson.dumps({"id": "c1", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": "I can't"}, "finish_reason": "stop", "stop_reason": "###"}], "usage": {"prompt_tokens": 3, "completion_tokens": 2}})
    message = orjson.loads(openai_translator(("###",)).body(body))
    assert message["content"] == [{"type": "text", "text": "I can't"}]
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "###")
    refusal = orjson.dumps({"id": "c2", "model": "m", "choices": [{"index": 0, "message": {"role": "assistant", "content": None, "refusal": "No."}, "finish_reason": "stop"}]})
    assert orjson.loads(openai_translator().body(refusal))["stop_reason"] == "refusal"


def test_parse_messages_request_refusals_name_the_field():
    with pytest.raises(BadRequest) as raised:
        parse_messages_request({"model": "m", "messages": [{"role": "user", "content": "Hi"}]})
    assert raised.value.param == "max_tokens"
    with pytest.raises(BadRequest) as raised:
        parse_messages_request({"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": [{"type": "image", "source": {"type": "file"}}]}]})
    assert raised.value.param == "messages[0].content[0].source"



@pytest.mark.parametrize(("anthropic", "mode"), [("auto", "auto"), ("any", "required"), ("none", "none")])
def test_tool_choice_types_map_to_their_openai_modes(anthropic, mode):
    body = {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "now", "input_schema": {"type": "object"}}], "tool_choice": {"type": anthropic}}
    assert parse_messages_request(body).tool_choice.mode == mode

def test_tool_result_images_follow_the_tool_messages():
    request = parse_messages_request(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "shot", "input": {}}]},
                {
                    "role": "user",
                    "content": [
                        {"type": "tool_result", "tool_use_id": "t1", "content": [
                            {"type": "text", "text": "here"},
                            {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AAA="}},
                        ]},
                    ],
                },
            ],
        }
    )
    assert [message.role for message in request.messages] == ["assistant", "tool", "user"]
    assert request.messages[1].content == "here" and request.messages[1].tool_call_id == "t1"
    (image,) = request.messages[2].content
    assert isinstance(image, ImagePart) and image.media_type == "image/png"
    assert not isinstance(image, TextPart)


def test_an_assistant_turn_of_thinking_only_is_left_out():
    request = parse_messages_request(
        {
            "model": "m",
            "max_tokens": 5,
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": [{"type": "thinking", "thinking": "hmm", "signature": "sig"}]},
                {"role": "user", "content": "Again"},
            ],
        }
    )
    assert [message.role for message in request.messages] == ["user", "user"]


def test_azure_openai_gets_its_deployments_chat_url_and_body():
    from multidict import CIMultiDict, CIMultiDictProxy

    from gateway.config import Target
    from gateway.providers.azure_openai import DEFAULT_API_VERSION, AzureOpenAI
    from gateway.providers.base import Call

    body = {"model": "gpt-4o", "max_tokens": 9, "stream": True, "messages": [{"role": "user", "content": "Hi"}]}
    call = Call(
        "POST", "messages", "beta=true", CIMultiDictProxy(CIMultiDict({"anthropic-beta": "x"})), body=orjson.dumps(body), json=body
    )
    target = Target(provider="azure-openai", api_key="k", options={"resource_name": "res", "deployment_id": "dep"})
    request = AzureOpenAI().prepare(call, target)
    assert str(request.url) == (
        f"https://res.openai.azure.com/openai/deployments/dep/chat/completions?api-version={DEFAULT_API_VERSION}"
    )
    assert orjson.loads(request.body) == {
        "model": "gpt-4o",
        "messages": [{"role": "user", "content": "Hi"}],
        "max_completion_tokens": 9,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    assert "anthropic-beta" not in request.headers and request.headers["accept"] == "text/event-stream"
