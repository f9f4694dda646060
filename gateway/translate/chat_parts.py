"""Pieces of an OpenAI chat request that every translating provider reads the same way.

One parser per piece, so that two providers cannot disagree about what is valid:

* :func:`data_url`: ``data:<media type>[;<name>=<value>]*;base64,<data>`` (RFC 2397
  allows parameters, e.g. ``;name=photo.png``, which browsers and SDKs add);
* :func:`tool_call_input`: an assistant tool call's ``function.arguments``, which must
  be a JSON object in a string (both Anthropic and Converse take an object as input).
"""

from __future__ import annotations

from typing import Any

import orjson

from ..errors import BadRequest


def data_url(url: str, param: str, code: str, accepted: str = "a data:<media type>;base64,<data> URL") -> tuple[str, str]:
    """A base64 data URL → (media type, base64 data); anything else is a 400 naming ``param``."""
    header, comma, data = url.partition(",")
    attributes = header[5:].split(";") if header.startswith("data:") else []
    if not comma or len(attributes) < 2 or attributes[-1].lower() != "base64" or not attributes[0]:
        raise BadRequest(f"{param}: must be {accepted}", code=code, param=param)
    return attributes[0], data


def tool_call_input(arguments: Any, param: str, code: str) -> dict[str, Any]:
    """``function.arguments`` (a JSON object in a string; empty means ``{}``) → the object."""
    if arguments is None or arguments == "":
        return {}
    try:
        parsed = orjson.loads(arguments) if isinstance(arguments, str) else None
    except orjson.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise BadRequest(f"{param}: must be a JSON object in a string, e.g. '{{\"city\": \"Paris\"}}'", code=code, param=param)
    return parsed
