"""A cheap OpenAI-compatible upstream for the streaming benchmarks (its own process).

    python scripts/fake_upstream.py PORT [--chunks 100] [--gap-ms 10]

``POST /v1/chat/completions`` answers the fixed chat.completion JSON, or, when the
body asks for ``"stream": true``, an SSE stream of ``--chunks`` chat.completion.chunk
events ``--gap-ms`` apart, then ``data: [DONE]``. ``POST .../converse-stream`` (AWS
Bedrock) answers the same stream as AWS event-stream frames: messageStart, one
contentBlockDelta per chunk, contentBlockStop, messageStop, metadata. Each chunk's
text is ``t=<time.monotonic() at send>`` so that a client on the same host can tell
how long it took to reach it (CLOCK_MONOTONIC is one clock for all processes).
``POST /v1/embeddings`` answers one 1536-float embedding (``embeddings_answer``).

Raw asyncio protocol and libuv timers rather than a web framework, so that the
upstream costs far less per chunk than what is measured; HTTP/1.1 keep-alive, and
chunked transfer encoding, one HTTP chunk per event, as OpenAI sends them.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import struct
import time
import zlib

import orjson

try:
    import uvloop
except ImportError:
    uvloop = None

from benchlib import CHAT_COMPLETION, HOST

CHUNK = (
    b'data: {"id":"chatcmpl-bench","object":"chat.completion.chunk","created":1700000000,'
    b'"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_bench","choices":[{"index":0,'
    b'"delta":{"content":"t=%.6f"},"logprobs":null,"finish_reason":null}]}\n\n'
)
LAST = b"data: [DONE]\n\n"
JSON_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
SSE_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache\r\n\r\n"


EVENT_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.amazon.eventstream\r\n"
    b"Transfer-Encoding: chunked\r\nx-amzn-RequestId: bench\r\n\r\n"
)


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def aws_event(event_type: str, payload: bytes) -> bytes:
    """One AWS event-stream frame: prelude (lengths + CRC32), string headers, payload, CRC32."""
    headers = b""
    for name, value in ((b":event-type", event_type.encode()), (b":content-type", b"application/json"),
                        (b":message-type", b"event")):
        headers += struct.pack(">B", len(name)) + name + struct.pack(">BH", 7, len(value)) + value
    prelude = struct.pack(">II", 16 + len(headers) + len(payload), len(headers))
    message = prelude + struct.pack(">I", zlib.crc32(prelude)) + headers + payload
    return message + struct.pack(">I", zlib.crc32(message))


class OpenAIStream:
    """The frames of an OpenAI chat stream, as HTTP chunks."""

    head = SSE_HEAD

    @staticmethod
    def first() -> bytes:
        return http_chunk(CHUNK % time.monotonic())

    @staticmethod
    def chunk() -> bytes:
        return http_chunk(CHUNK % time.monotonic())

    last = http_chunk(LAST) + b"0\r\n\r\n"


class BedrockStream:
    """The frames of a Bedrock ConverseStream answer, as HTTP chunks."""

    head = EVENT_STREAM_HEAD
    _delta = b'{"contentBlockIndex":0,"delta":{"text":"t=%.6f"},"p":"abcdefgh"}'

    @classmethod
    def first(cls) -> bytes:
        return http_chunk(aws_event("messageStart", b'{"role":"assistant","p":"abcd"}') + cls._frame())

    @classmethod
    def chunk(cls) -> bytes:
        return http_chunk(cls._frame())

    @classmethod
    def _frame(cls) -> bytes:
        return aws_event("contentBlockDelta", cls._delta % time.monotonic())

    last = http_chunk(
        aws_event("contentBlockStop", b'{"contentBlockIndex":0,"p":"ab"}')
        + aws_event("messageStop", b'{"stopReason":"end_turn","p":"abc"}')
        + aws_event("metadata", b'{"usage":{"inputTokens":12,"outputTokens":100,"totalTokens":112},'
                                b'"metrics":{"latencyMs":42},"p":"abcdef"}')
    ) + b"0\r\n\r\n"


EMBEDDING_DIMENSIONS = 1536
_random = random.Random(7)
_BASES = [[_random.gauss(0.0, 1.0) for _ in range(EMBEDDING_DIMENSIONS)] for _ in range(2)]


def embeddings_answer(body: bytes) -> bytes:
    """OpenAI's embeddings list for ``input`` (one text): texts whose first word is the
    same get the same vector, others nearly orthogonal ones (two base vectors rolled by
    hashes of the first word), so a benchmark can ask for a semantic hit or a miss."""
    word = orjson.loads(body)["input"].split(" ", 1)[0].encode()
    digest = zlib.crc32(word)
    first, second = digest % EMBEDDING_DIMENSIONS, (digest // EMBEDDING_DIMENSIONS) % EMBEDDING_DIMENSIONS
    a, b = _BASES[0][first:] + _BASES[0][:first], _BASES[1][second:] + _BASES[1][:second]
    vector = [x + y for x, y in zip(a, b, strict=True)]
    return orjson.dumps({"object": "list", "data": [{"object": "embedding", "index": 0, "embedding": vector}],
                         "model": "text-embedding-3-small", "usage": {"prompt_tokens": 8, "total_tokens": 8}})


class Upstream(asyncio.Protocol):
    chunks = 100
    gap = 0.01

    def connection_made(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.buffer = b""
        self.timer: asyncio.TimerHandle | None = None

    def connection_lost(self, exc) -> None:
        if self.timer is not None:
            self.timer.cancel()  # the gateway hung up mid-stream

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            length = 0  # clients here always send a Content-Length (no chunked bodies)
            for line in self.buffer[:head_end].lower().split(b"\r\n"):
                if line.startswith(b"content-length:"):
                    length = int(line[15:])
            end = head_end + 4 + length
            if len(self.buffer) < end:
                return
            request_line = self.buffer[: self.buffer.find(b"\r\n")]
            body, self.buffer = self.buffer[head_end + 4 : end], self.buffer[end:]
            self.answer(request_line, body)

    def answer(self, request_line: bytes, body: bytes) -> None:
        if b"/embeddings " in request_line:
            payload = embeddings_answer(body)
            self.transport.write(JSON_HEAD % len(payload) + payload)
            return
        if b"/converse-stream " in request_line:
            self.stream = BedrockStream
        else:
            try:
                wants_stream = orjson.loads(body).get("stream") is True
            except (orjson.JSONDecodeError, AttributeError):
                wants_stream = False
            if not wants_stream:
                self.transport.write(JSON_HEAD % len(CHAT_COMPLETION) + CHAT_COMPLETION)
                return
            self.stream = OpenAIStream
        loop = asyncio.get_running_loop()
        self.transport.write(self.stream.head + self.stream.first())
        self.schedule(loop, loop.time(), 1)

    def schedule(self, loop, started: float, sent: int) -> None:
        # Absolute times: a late tick does not push every later chunk back.
        self.timer = loop.call_at(started + sent * self.gap, self.send, loop, started, sent)

    def send(self, loop, started: float, sent: int) -> None:
        if self.transport.is_closing():
            return
        if sent < self.chunks:
            self.transport.write(self.stream.chunk())
            self.schedule(loop, started, sent + 1)
        else:
            self.timer = None
            self.transport.write(self.stream.last)


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, HOST, port, backlog=4096)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description="fake OpenAI upstream for the streaming benchmarks")
    parser.add_argument("port", type=int)
    parser.add_argument("--chunks", type=int, default=100)
    parser.add_argument("--gap-ms", type=float, default=10.0)
    args = parser.parse_args()
    Upstream.chunks, Upstream.gap = args.chunks, args.gap_ms / 1000
    runner = uvloop.run if uvloop else asyncio.run
    try:
        runner(serve(args.port))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
