"""Bedrock's errors → the client's: HTTP error bodies and in-stream exception frames.

Bedrock answers a failed call with ``{"message": "..."}`` and the error's name in the
``x-amzn-ErrorType`` header (``ValidationException:http://internal.amazon.com/...``).
Inside a stream, an exception is a frame with ``:message-type: exception`` whose
``:exception-type`` names it; these map to the status the same error would have had
as an HTTP answer.
"""

from __future__ import annotations

from collections.abc import Mapping

import orjson

from ...errors import GatewayError
from ...streaming.eventstream import Frame
from ...translate.anthropic_errors import AnthropicShapedError  # noqa: F401 (imported from here too)

# ConverseStream exception names → HTTP status, as the Bedrock API reference lists them.
EXCEPTION_STATUS: Mapping[str, int] = {
    "throttlingException": 429,
    "validationException": 400,
    "modelStreamErrorException": 424,
    "serviceUnavailableException": 503,
    "internalServerException": 500,
    "modelTimeoutException": 408,
    "accessDeniedException": 403,
    "resourceNotFoundException": 404,
    "modelNotReadyException": 429,
    "serviceQuotaExceededException": 429,
}

_OPENAI_TYPES: Mapping[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_type(status: int) -> str:
    return _OPENAI_TYPES.get(status, "api_error")


def error_name(headers: Mapping[str, str]) -> str | None:
    """``x-amzn-ErrorType: ValidationException:http://...`` → ``ValidationException``."""
    value = headers.get("x-amzn-ErrorType")
    return value.split(":", 1)[0] or None if value else None


def error_message(body: bytes) -> str | None:
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if isinstance(parsed, dict):
        message = parsed.get("message", parsed.get("Message"))
        if isinstance(message, str):
            return message
    return None


def upstream_error(status: int, headers: Mapping[str, str], body: bytes) -> GatewayError:
    """An HTTP error answer from Bedrock, as a GatewayError with the same status."""
    name = error_name(headers)
    message = error_message(body) or body[:500].decode("utf-8", "replace").strip() or f"HTTP {status}"
    return GatewayError(
        f"bedrock: {message}",
        status=status,
        type=openai_type(status),
        code=name or "bedrock_error",
    )


def frame_error(frame: Frame) -> GatewayError:
    """An ``exception`` or ``error`` frame met in a stream."""
    if frame.message_type == "exception":
        name = frame.exception_type or "unknownException"
        status = EXCEPTION_STATUS.get(name, 502)
        message = error_message(frame.payload) or name
    else:  # "error": the service's own framing of a failure, named in headers
        name = frame.headers.get(":error-code") or "streamError"
        status = EXCEPTION_STATUS.get(name[:1].lower() + name[1:], 502)
        message = frame.headers.get(":error-message") or name
    return GatewayError(f"bedrock: {message}", status=status, type=openai_type(status), code=name)
