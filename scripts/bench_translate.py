"""The CPU cost of translation, in-process (no sockets): per stream chunk and per answer.

    .venv/bin/python scripts/bench_translate.py [--repeat 5] [--chunks 2000]

Per chunk: one upstream text delta fed to a stream translator (Anthropic SSE →
OpenAI chunks, Bedrock event-stream → OpenAI chunks, Bedrock event-stream →
Anthropic Messages events, Gemini SSE → OpenAI chunks), each delta its own
``feed``, as the network usually delivers them. Per answer: a whole upstream body
translated to a ``chat.completion`` (Anthropic, Bedrock, Gemini). Per request: an
OpenAI chat request translated to Anthropic Messages, Bedrock Converse, Gemini and Cohere
(each parsing the request first, as once per translated call).
For ``/v1/messages`` in front of other providers: an Anthropic Messages request to an
OpenAI chat body and to Gemini, OpenAI chunks and Gemini SSE to Anthropic events,
whole OpenAI and Gemini answers to a Messages ``message``. The best of
``--repeat`` runs (CPU time of this process, so that other processes on a shared
machine disturb it less) is printed, in microseconds.
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.providers.anthropic.request import to_messages_request  # noqa: E402
from gateway.providers.anthropic.response import to_chat_completion as anthropic_body  # noqa: E402
from gateway.providers.anthropic.stream import ChatStreamTranslator as AnthropicStream  # noqa: E402
from gateway.providers.base import Call  # noqa: E402
from gateway.providers.bedrock.converse_request import chat_to_converse  # noqa: E402
from gateway.providers.bedrock.converse_response import converse_to_chat  # noqa: E402
from gateway.providers.bedrock.converse_stream import ConverseChatStream  # noqa: E402
from gateway.providers.bedrock.messages_stream import ConverseMessagesStream  # noqa: E402
from gateway.providers.cohere.request import to_chat_request as to_cohere_chat  # noqa: E402
from gateway.providers.google.messages import gemini_messages_translator  # noqa: E402
from gateway.providers.google.request import to_generate_content  # noqa: E402
from gateway.providers.google.response import to_chat_completion as google_body  # noqa: E402
from gateway.providers.google.stream import ChatStreamTranslator as GoogleStream  # noqa: E402
from gateway.providers.openai_messages import openai_messages_translator  # noqa: E402
from gateway.translate.messages_request import parse_messages_request  # noqa: E402
from gateway.translate.openai_request import ChatDialect, to_openai_chat  # noqa: E402
from tests.fakes.eventstream import event_frame  # noqa: E402

TEXT = "Hello, how are you doing today? "


def anthropic_sse(name: str, data: dict) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps({"type": name, **data}) + b"\n\n"


def anthropic_chunks(count: int) -> tuple[bytes, list[bytes], bytes]:
    start = anthropic_sse("message_start", {"message": {"id": "msg_1", "model": "claude", "usage": {"input_tokens": 5}}})
    start += anthropic_sse("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
    delta = anthropic_sse("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": TEXT}})
    end = anthropic_sse("content_block_stop", {"index": 0})
    end += anthropic_sse("message_delta", {"delta": {"stop_reason": "end_turn"}, "usage": {"output_tokens": count}})
    end += anthropic_sse("message_stop", {})
    return start, [delta] * count, end


def bedrock_chunks(count: int) -> tuple[bytes, list[bytes], bytes]:
    start = event_frame("messageStart", {"role": "assistant"})
    delta = event_frame("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": TEXT}})
    end = event_frame("contentBlockStop", {"contentBlockIndex": 0})
    end += event_frame("messageStop", {"stopReason": "end_turn"})
    end += event_frame("metadata", {"usage": {"inputTokens": 5, "outputTokens": count}, "metrics": {}})
    return start, [delta] * count, end


def gemini_chunks(count: int) -> tuple[bytes, list[bytes], bytes]:
    def event(payload: dict) -> bytes:
        return b"data: " + orjson.dumps(payload) + b"\r\n\r\n"

    part = {"candidates": [{"content": {"role": "model", "parts": [{"text": TEXT}]}, "index": 0}],
            "modelVersion": "gemini-2.5-flash", "responseId": "r1"}
    last = {"candidates": [{"content": {"role": "model", "parts": [{"text": "."}]}, "finishReason": "STOP", "index": 0}],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": count}, "modelVersion": "gemini-2.5-flash"}
    return event(part), [event(part)] * count, event(last)


def openai_chunks(count: int) -> tuple[bytes, list[bytes], bytes]:
    def event(delta: dict, finish: str | None = None) -> bytes:
        payload = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o",
                   "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}], "usage": None}
        return b"data: " + orjson.dumps(payload) + b"\n\n"

    usage = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": "gpt-4o", "choices": [],
             "usage": {"prompt_tokens": 5, "completion_tokens": count, "total_tokens": 5 + count}}
    end = event({}, "stop") + b"data: " + orjson.dumps(usage) + b"\n\ndata: [DONE]\n\n"
    return event({"role": "assistant", "content": ""}), [event({"content": TEXT})] * count, end


def per_chunk(make, pieces: tuple[bytes, list[bytes], bytes], repeat: int) -> float:
    start, deltas, end = pieces

    def run() -> None:
        translator = make()
        translator.feed(start)
        for delta in deltas:
            translator.feed(delta)
        translator.feed(end)
        translator.close()

    best = min(timeit.Timer(run, timer=time.process_time).repeat(number=1, repeat=repeat))
    return best / len(deltas) * 1e6


ANTHROPIC_BODY = orjson.dumps({
    "id": "msg_1", "type": "message", "role": "assistant", "model": "claude",
    "content": [{"type": "text", "text": TEXT}, {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}],
    "stop_reason": "tool_use", "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 2},
})
BEDROCK_BODY = orjson.dumps({
    "output": {"message": {"role": "assistant", "content": [{"text": TEXT}, {"toolUse": {"toolUseId": "t1", "name": "f", "input": {"a": 1}}}]}},
    "stopReason": "tool_use", "usage": {"inputTokens": 10, "outputTokens": 5, "totalTokens": 15},
})
GEMINI_BODY = orjson.dumps({
    "candidates": [{"content": {"role": "model", "parts": [{"text": TEXT}, {"functionCall": {"name": "f", "args": {"a": 1}}}]},
                    "finishReason": "STOP", "index": 0}],
    "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15},
    "modelVersion": "gemini-2.5-flash", "responseId": "r1",
})


# A small conversation with a tool round trip, as agents send them.
CHAT_REQUEST = {
    "model": "claude", "max_tokens": 100, "temperature": 0.2, "stream": True,
    "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": "Hi", "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]},
        {"role": "tool", "tool_call_id": "t1", "content": "ok"},
        {"role": "user", "content": [{"type": "text", "text": "and?"}]},
    ],
    "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
}


# The same conversation as an Anthropic-format client (Claude Code) sends it.
MESSAGES_REQUEST = {
    "model": "gpt-4o", "max_tokens": 100, "stream": True, "system": [{"type": "text", "text": "Be brief."}],
    "messages": [
        {"role": "user", "content": "Hello there"},
        {"role": "assistant", "content": [{"type": "text", "text": "Hi"}, {"type": "tool_use", "id": "t1", "name": "f", "input": {"a": 1}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": "ok"}, {"type": "text", "text": "and?"}]},
    ],
    "tools": [{"name": "f", "input_schema": {"type": "object"}}],
    "metadata": {"user_id": "u1"},
}
OPENAI_BODY = orjson.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": "gpt-4o",
    "choices": [{"index": 0, "message": {"role": "assistant", "content": TEXT, "tool_calls": [
        {"id": "t1", "type": "function", "function": {"name": "f", "arguments": '{"a":1}'}}]}, "finish_reason": "tool_calls"}],
    "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
})
OPENAI_DIALECT = ChatDialect("max_completion_tokens")


def messages_call() -> Call:
    return Call("POST", "messages", "", None, json=MESSAGES_REQUEST)  # type: ignore[arg-type]


def per_answer(function, repeat: int, number: int = 2000) -> float:
    return min(timeit.Timer(function, timer=time.process_time).repeat(number=number, repeat=repeat)) / number * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--chunks", type=int, default=2000)
    args = parser.parse_args()
    n = args.chunks
    to_message = openai_messages_translator(messages_call())
    rows = [
        ("stream chunk: anthropic → openai", per_chunk(lambda: AnthropicStream(model="m", include_usage=True), anthropic_chunks(n), args.repeat)),
        ("stream chunk: bedrock → openai", per_chunk(lambda: ConverseChatStream("m", include_usage=True), bedrock_chunks(n), args.repeat)),
        ("stream chunk: bedrock → anthropic", per_chunk(lambda: ConverseMessagesStream("m"), bedrock_chunks(n), args.repeat)),
        ("stream chunk: gemini → openai", per_chunk(lambda: GoogleStream(model="m", include_usage=True), gemini_chunks(n), args.repeat)),
        ("request: openai → anthropic", per_answer(lambda: to_messages_request(CHAT_REQUEST), args.repeat)),
        ("request: openai → bedrock converse", per_answer(lambda: chat_to_converse(CHAT_REQUEST), args.repeat)),
        ("request: openai → gemini", per_answer(lambda: to_generate_content(CHAT_REQUEST), args.repeat)),
        ("request: openai → cohere", per_answer(lambda: to_cohere_chat(CHAT_REQUEST), args.repeat)),
        ("whole answer: anthropic → openai", per_answer(lambda: orjson.dumps(anthropic_body(ANTHROPIC_BODY)), args.repeat)),
        ("whole answer: bedrock → openai", per_answer(lambda: converse_to_chat(BEDROCK_BODY, "m"), args.repeat)),
        ("whole answer: gemini → openai", per_answer(lambda: orjson.dumps(google_body(GEMINI_BODY, model="m")), args.repeat)),
        ("stream chunk: openai → anthropic", per_chunk(lambda: openai_messages_translator(messages_call()).stream(), openai_chunks(n), args.repeat)),
        ("stream chunk: gemini → anthropic", per_chunk(lambda: gemini_messages_translator("m").stream(), gemini_chunks(n), args.repeat)),
        ("request: anthropic → openai", per_answer(lambda: orjson.dumps(to_openai_chat(parse_messages_request(MESSAGES_REQUEST), OPENAI_DIALECT)), args.repeat)),
        ("request: anthropic → gemini", per_answer(lambda: to_generate_content(parse_messages_request(MESSAGES_REQUEST)), args.repeat)),
        ("whole answer: openai → anthropic", per_answer(lambda: to_message.body(OPENAI_BODY), args.repeat)),
        ("whole answer: gemini → anthropic", per_answer(lambda: gemini_messages_translator("m").body(GEMINI_BODY), args.repeat)),
    ]
    for name, micros in rows:
        print(f"{name:36} {micros:7.2f} µs")


if __name__ == "__main__":
    main()
