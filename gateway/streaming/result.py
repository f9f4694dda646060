"""What the relay reports about one answer (a value, not a write to the request's state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import GatewayError
from ..usage import Usage


@dataclass(slots=True)
class RelayResult:
    """How an answer went to the client: bytes out, first byte, usage, how it ended."""

    upstream_request_id: str | None = None
    # The model the answer names, when the request's body was streamed (never parsed).
    model: str | None = None
    usage: Usage | None = None
    # Body bytes written by a streamed answer, and perf_counter() at its first byte.
    bytes_out: int = 0
    first_byte_at: float | None = None
    # Set when the answer failed after its first byte (it ended with an error event).
    stream_error: GatewayError | None = None
    # Set when the client hung up while its answer was being written.
    client_gone: bool = False
    # Observability: seconds spent reading a whole answer from the upstream (not the
    # gateway's overhead); chunks written; the finish reasons seen in the bytes out
    # (read only when tracing).
    waited: float = 0.0
    chunks_out: int = 0
    finish_reasons: list[str] = field(default_factory=list)
    # The response cache's gateway.cache.recording.Recording: every piece written to
    # the client is appended to it (None: the answer is not to be cached).
    recording: Any = None
