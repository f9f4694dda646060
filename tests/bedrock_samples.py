"""Shared samples for the Bedrock translation tests."""

from __future__ import annotations

import base64

from tests.fakes.bedrock import Script, stream_frames

PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n-image-").decode()
USAGE = {"inputTokens": 30, "outputTokens": 20, "totalTokens": 60, "cacheReadInputTokens": 8, "cacheWriteInputTokens": 2}

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


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted(set(cuts))
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
