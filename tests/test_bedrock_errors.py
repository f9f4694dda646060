"""Bedrock's errors → OpenAI's: exception frames, error frames, HTTP error bodies."""

from __future__ import annotations

import orjson
import pytest

from gateway.providers.bedrock.errors import frame_error, upstream_error
from gateway.streaming.eventstream import Frame


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

