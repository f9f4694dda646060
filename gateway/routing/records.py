"""What routing reports about one request: typed values, read by the context middleware.

Routing and the relay do not write the request's state; they fill these records of
their own, which the handler publishes on the request (``ROUTED``) before the first
attempt starts, so that what happened is known even when the client hangs up in the
middle. The context middleware, the one writer of the request's state, reads them
into the access line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from ..streaming.result import RelayResult


@dataclass(slots=True)
class AttemptRecord:
    """One call to one target: the access line's ``attempts`` entry."""

    target: str
    provider: str
    status: int
    ms: float
    error: str | None = None
    # The model this target was sent (after its override_params), when the body was read.
    model: str | None = None
    # What the strategies did next: "retry" or "fallback"; why a retry was not made.
    then: str | None = None
    retry: str | None = None

    def fields(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"target": self.target, "provider": self.provider, "status": self.status, "ms": self.ms}
        if self.error is not None:
            fields["error"] = self.error
        if self.then is not None:
            fields["then"] = self.then
        if self.retry is not None:
            fields["retry"] = self.retry
        return fields


@dataclass(slots=True)
class Routed:
    """One request's routing: its attempts, the target that answered, the relay."""

    attempts: list[AttemptRecord] = field(default_factory=list)
    option_path: str | None = None
    provider: str | None = None
    relay: RelayResult | None = None
    # Observability: seconds spent awaiting upstreams (sending until the first output)
    # and retry backoffs, not the gateway's overhead; the answering attempt's trace
    # span, left open while the answer is relayed (None without tracing).
    waited: float = 0.0
    answer_span: Any = None
    # The response cache's status for the answer (gateway.cache.status), None when no
    # cache config applied.
    cache: str | None = None

    @property
    def model(self) -> str | None:
        """The model sent upstream by the last attempt that read the body."""
        for record in reversed(self.attempts):
            if record.model is not None:
                return record.model
        return None

    @property
    def answered_model(self) -> str | None:
        """The model sent upstream, else the one the answer names (a streamed body)."""
        model = self.model
        if model is None and self.relay is not None:
            return self.relay.model
        return model


ROUTED = web.RequestKey("gateway_routed", Routed)
