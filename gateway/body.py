"""Reading the client's request body, or arranging for it to be streamed."""

from __future__ import annotations

import orjson
from aiohttp import web

from .errors import BadRequest, BodyTooLarge, BrokenBody, ClientClosed
from .providers.base import Call
from .upstream import BodyCounter

JSON_TYPES = ("application/json",)


def content_length(request: web.Request, limit: int) -> int | None:
    """The declared length, or a 413 at once when it is over the limit."""
    length = request.content_length
    if length is not None and length > limit:
        raise BodyTooLarge(f"request body of {length} bytes is larger than the gateway's limit of {limit} bytes")
    return length


def stream_body(request: web.Request, call: Call, limit: int) -> None:
    """Let the body flow to the upstream as it arrives (nothing needs to read it)."""
    call.content_length = content_length(request, limit)
    if not request.body_exists:
        return
    content = request.content
    if call.content_length is not None and content.is_eof():
        # The whole body (of a length already checked) came in with the headers, as
        # small requests do: hand it on as bytes, which go upstream in one write with
        # the request's headers instead of through an async iterator and a second
        # write. A body sent without a length still goes upstream chunked.
        try:
            call.body = content.read_nowait()
        except ConnectionError:  # the client left once its body was in, before we read it
            raise ClientClosed("the client closed its connection before its request was read") from None
        return
    call.body_stream = BodyCounter(content, limit)


async def read_body(request: web.Request, call: Call, limit: int, *, require_json: bool) -> None:
    """Read the body whole, and parse it when it is JSON (or must be).

    Each target applies its own override_params to its copy (``routing.attempt.call_for``).
    """
    content_length(request, limit)
    try:
        body = await request.read()  # bounded by the application's client_max_size
    except ConnectionError:
        raise ClientClosed("the client closed its connection before its request was read") from None
    except web.RequestPayloadError:  # its text may quote the client's bytes: not echoed
        raise BrokenBody() from None
    is_json = request.content_type in JSON_TYPES or (require_json and not request.content_type.startswith("multipart/"))
    if body and (is_json or require_json):
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"request body is not valid JSON: {exc}", code="invalid_json") from None
        if not isinstance(parsed, dict):
            raise BadRequest("request body must be a JSON object", code="invalid_json")
        call.json = parsed
    elif require_json:
        raise BadRequest("request body must be a JSON object", code="invalid_json")
    call.body = body
