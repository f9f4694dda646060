"""Values that may go into an upstream request's headers.

aiohttp's client refuses CR and LF in a header value (ValueError) and encodes values as
UTF-8, so a lone surrogate raises UnicodeEncodeError; both surfaced as 500s. Lone
surrogates are how aiohttp's server hands over header bytes that are not UTF-8
(``surrogateescape``), and config values (JSON) may hold any control character.
Other control characters (NUL, ESC, DEL, ...) are refused too: no credential, version
or id holds one, and some servers cut a header at them. A tab is allowed (HTTP allows
it inside a value).
"""

from __future__ import annotations

import re

from .errors import BadRequest

_UNSAFE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\ud800-\udfff]")


def header_value_problem(value: str) -> str | None:
    """Why ``value`` cannot be sent in a header, or None."""
    found = _UNSAFE.search(value)
    if found is None:
        return None
    if found.group() >= "\ud800":
        return "is not valid UTF-8"
    return "must not contain control characters (CR, LF, NUL, ...)"


def check_header_value(value: str, param: str) -> str:
    """``value``, or a 400 naming ``param`` (a header name or a config path)."""
    problem = header_value_problem(value)
    if problem is not None:
        raise BadRequest(f"{param}: {problem}", code="invalid_header_value", param=param)
    return value


def checked_client_value(value: str, name: str) -> str:
    """A received header's value, to send on: aiohttp's HTTP parser already refused
    control characters in it, so only non-ASCII values (bytes that may not be UTF-8)
    need the full check."""
    return value if value.isascii() else check_header_value(value, name)
