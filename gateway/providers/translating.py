"""What every provider that speaks another protocol does the same way.

Such a provider serves a few client routes (``chat/completions``, ``embeddings``,
``messages``), each by POSTing one JSON body it writes itself; it names its routes
and, per call, the upstream URL, the payload and the answer's translator. This base
does the rest once: the 400 for OpenAI's Responses API, the 404 for a route it does
not serve, the 405 for a method other than POST, the 400 for a streamed embeddings
call, and the upstream headers (the client's forwarded ones without OpenAI's own,
JSON in, JSON or SSE out).
"""

from __future__ import annotations

from typing import Any

import orjson
from multidict import CIMultiDict
from yarl import URL

from ..config import ProviderOption, Target
from ..errors import BadRequest, MethodNotAllowed, NotFound
from .base import MESSAGES, Call, ResponseTranslator, UpstreamRequest, forwarded_headers, refuse_responses

CHAT = "chat/completions"
EMBEDDINGS = "embeddings"
__all__ = ["CHAT", "EMBEDDINGS", "MESSAGES", "TranslatingProvider", "json_headers"]


class TranslatingProvider:
    name: str
    config_options: tuple[ProviderOption, ...] = ()
    # The client routes (the path after /v1/) this provider serves, in the order its
    # 404 names them.
    routes: tuple[str, ...] = (CHAT, EMBEDDINGS)

    def needs_body(self, call: Call) -> bool:
        return call.endpoint in self.routes

    def prepare(self, call: Call, target: Target) -> UpstreamRequest:
        self.check_route(call)
        url, payload = self.upstream(call, target)
        return UpstreamRequest("POST", url, json_headers(call, target), orjson.dumps(payload))

    def translator(self, call: Call) -> ResponseTranslator | None:
        # Called after prepare (so the request was parsed and checked).
        return self.answer_translator(call) if call.endpoint in self.routes else None

    def check_route(self, call: Call) -> None:
        refuse_responses(call, self.name)
        if call.endpoint not in self.routes:
            served = [f"/v1/{route}" for route in self.routes]
            listed = served[0] if len(served) == 1 else ", ".join(served[:-1]) + " and " + served[-1]
            raise NotFound(
                f"provider {self.name!r} does not serve /v1/{call.endpoint}: it serves {listed}",
                code="unsupported_endpoint",
            )
        if call.method != "POST":
            raise MethodNotAllowed(f"{call.method} /v1/{call.endpoint} is not allowed: use POST")
        if call.endpoint == EMBEDDINGS and call.wants_stream:
            raise BadRequest("stream: embeddings are not streamed", code="invalid_value", param="stream")

    # What each provider declares.

    def upstream(self, call: Call, target: Target) -> tuple[URL, dict[str, Any]]:
        """The upstream URL and JSON payload for a call on one of ``routes``."""
        raise NotImplementedError

    def answer_translator(self, call: Call) -> ResponseTranslator | None:
        """The translator of the answer to a call on one of ``routes``."""
        raise NotImplementedError


def json_headers(call: Call, target: Target) -> CIMultiDict[str]:
    """The client's forwarded headers (not OpenAI's own), a JSON body, and the
    answer's type: an event stream when the client asked for one."""
    headers = forwarded_headers(call, target)
    headers.popall("openai-beta", None)
    headers["content-type"] = "application/json"
    headers["accept"] = "text/event-stream" if call.wants_stream else "application/json"
    return headers
