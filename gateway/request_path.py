"""The path of a ``/v1/`` request, checked before it is appended to a provider's URL.

The endpoint after ``/v1/`` is relayed as the client wrote it (percent-encoding kept,
so ids holding ``%2F`` reach the provider intact). Servers upstream resolve dot
segments, decode ``%2e`` and ``%2f``, and some read a backslash as a slash, so
``/v1/..%2f..%2fadmin`` would leave the provider's base path
(``https://host/v1/`` → ``https://host/admin``). Refused with a 400 ``invalid_path``
that names the problem and never echoes the path:

* a request target not written as a path under ``/v1/`` (the absolute form
  ``POST http://host/v1/...``, or ``/%76%31/...``);
* a dot segment (``.``, ``..``, also ``..;x``), plain or percent-encoded in any case,
  or made by an encoded slash (``..%2f..``), through up to four nested encodings;
* a backslash, plain or ``%5c``;
* a percent-encoded control character (raw ones are refused by the HTTP parser);
* a fragment (``#``), which has no place in a request.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from .errors import BadRequest

API_PREFIX = "/v1/"
# %252e is %2e once decoded: an upstream that decodes twice sees a dot. Deeper nesting
# than this is refused rather than decoded further.
_MAX_DECODINGS = 4
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def split_target(raw_target: str) -> tuple[str, str]:
    """``(endpoint, query string)`` of a raw ``/v1/<endpoint>?<query>`` target, or a 400."""
    path, _, query = raw_target.partition("?")
    if not path.startswith(API_PREFIX):
        raise _invalid("the request target must be a path under /v1/ (not an absolute URL, not percent-encoded)")
    if "#" in raw_target:
        raise _invalid("a request target has no fragment (#)")
    problem = path_problem(path)
    if problem is not None:
        raise _invalid(problem)
    return path[len(API_PREFIX) :], query


def path_problem(path: str) -> str | None:
    """What makes ``path`` unsafe to append to a base URL, or None."""
    form = path
    for _ in range(_MAX_DECODINGS + 1):
        if "\\" in form:
            return "backslashes are not allowed in the path (plain or %5c)"
        # Every segment follows a "/", so a path without "/." has no dot segment.
        if "/." in form and any(segment.partition(";")[0] in (".", "..") for segment in form.split("/")):
            return "dot segments (. and ..) are not allowed in the path, plain or percent-encoded"
        if "%" not in form:
            return None
        decoded = unquote(form)
        if decoded == form:
            return None
        if _CONTROL.search(decoded):
            return "percent-encoded control characters are not allowed in the path"
        form = decoded
    return f"the path is percent-encoded more than {_MAX_DECODINGS} times over"


def _invalid(problem: str) -> BadRequest:
    return BadRequest(f"invalid request path: {problem}", code="invalid_path")
