"""What an upstream call may put in a log line: its URL without secrets, its id.

A URL's query can carry a key (Google's ``?key=``, signed URLs' signatures) and its
userinfo a password, so only the names of query parameters are kept, their values
replaced, except for a few that are known to be harmless and useful when debugging.
"""

from __future__ import annotations

from collections.abc import Mapping

from yarl import URL

# Query parameters whose values are never secret: API versions, response formats.
_HARMLESS_QUERY = frozenset({"api-version", "alt", "beta"})
REDACTED = "REDACTED"

# Where providers put their own id for a request: OpenAI and most compatible ones,
# Anthropic, AWS.
_REQUEST_ID_HEADERS = ("x-request-id", "request-id", "x-amzn-requestid")


def loggable_url(url: URL | None) -> str | None:
    if url is None:
        return None
    safe = url.with_user(None).with_fragment(None)  # with_user(None) drops the password too
    if url.query_string:
        safe = safe.with_query(
            [(name, value if name.lower() in _HARMLESS_QUERY else REDACTED) for name, value in url.query.items()]
        )
    return str(safe)


def upstream_request_id(headers: Mapping[str, str]) -> str | None:
    for name in _REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value[:128]  # an id, not a place for an upstream to write essays
    return None
