"""An error told the way Anthropic's API tells it, for clients of ``/v1/messages``."""

from __future__ import annotations

import orjson

from ..errors import GatewayError


class AnthropicShapedError(GatewayError):
    """The same error, told the way Anthropic's API tells it (for ``/v1/messages``):
    ``{"type": "error", "error": {"type", "message"}}``, in a stream as ``event: error``."""

    def __init__(self, error: GatewayError) -> None:
        super().__init__(error.message, status=error.status, type=error.type, code=error.code, param=error.param)

    # The type for each status is errors.ANTHROPIC_TYPES, the same for every error.
    def body(self) -> bytes:
        return orjson.dumps(self.anthropic_object())

    def sse_event(self) -> bytes:
        return self.event_for(anthropic=True)
