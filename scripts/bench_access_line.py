"""What the access line and the usage read on the side cost, per request and per chunk.

    .venv/bin/python scripts/bench_access_line.py

``timeit`` with the process's CPU clock (best of 9), so that other processes on the
machine barely move the figures. The access line is written as in production: one
JSON record through the gateway's formatter to /dev/null.
"""

from __future__ import annotations

import os
import time
import timeit

import orjson
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from gateway.log import configure_logging
from gateway.middlewares.context import _access_line
from gateway.middlewares.state import STATE_KEY, RequestState
from gateway.settings import SETTINGS, Settings
from gateway.streaming.usage_sniffer import UsageSniffer, model_in, usage_in
from gateway.usage import Usage

USAGE = {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21}
JSON_ANSWER = orjson.dumps(
    {"id": "chatcmpl-1", "object": "chat.completion", "model": "gpt-4o-mini-2024-07-18",
     "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello! How can I help?"}}], "usage": USAGE}
)


def chunk(content: str, usage=None, choices=True) -> bytes:
    event = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "gpt-4o-mini-2024-07-18",
             "choices": [{"index": 0, "delta": {"content": content}}] if choices else [], "usage": usage}
    return b"data: " + orjson.dumps(event) + b"\n\n"


# An OpenAI stream with include_usage: "usage": null in every chunk, the counts last.
STREAM = [chunk(f"word{n} ") for n in range(40)] + [chunk("", USAGE, choices=False), b"data: [DONE]\n\n"]


def best_us(function, number: int) -> float:
    timer = timeit.Timer(function, timer=time.process_time)
    return min(timer.repeat(number=number, repeat=9)) / number * 1e6


def access_line_us(full: bool) -> float:
    app = web.Application()
    app[SETTINGS] = Settings()
    request = make_mocked_request("POST", "/v1/chat/completions", app=app)
    state = RequestState(trace_id="0" * 32, started=time.perf_counter(), provider="openai")
    state.attempts = [{"target": "config", "provider": "openai", "status": 200, "ms": 3.2}]
    if full:
        state.model, state.usage = "gpt-4o-mini-2024-07-18", Usage(12, 9)
        state.first_byte_at, state.upstream_request_id = time.perf_counter(), "req_0123456789abcdef"
    request[STATE_KEY] = state
    response = web.Response(body=b"x" * 300)
    return best_us(lambda: _access_line(request, state, 200, response), 50_000)


def stream_us() -> float:
    def run():
        sniffer = UsageSniffer()
        for part in STREAM:
            sniffer.feed(part)
        return sniffer.usage()

    return best_us(run, 5_000)


def main() -> None:
    configure_logging("info", open(os.devnull, "w"))  # noqa: SIM115 - as in production, to /dev/null
    steady = UsageSniffer()
    for part in STREAM * 3:
        steady.feed(part)  # past the head window, as in a long stream
    one_chunk = STREAM[0]
    print(f"access line, always-present fields:           {access_line_us(False):6.2f} us per request")
    print(f"access line, with model, usage, upstream id:  {access_line_us(True):6.2f} us per request")
    print(f"UsageSniffer.feed:                            {best_us(lambda: steady.feed(one_chunk), 200_000):6.2f} us per chunk")
    print(f"{len(STREAM)}-event stream, feeds + usage():           {stream_us():6.2f} us per response")
    print(f"usage_in, {len(JSON_ANSWER)} B JSON answer:                {best_us(lambda: usage_in(JSON_ANSWER), 50_000):6.2f} us per response")
    print(f"model_in, first chunk:                        {best_us(lambda: model_in(JSON_ANSWER), 50_000):6.2f} us per response")


if __name__ == "__main__":
    main()
