"""Headers that describe one HTTP connection (RFC 9110 §7.6.1), never relayed either way."""

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_NO_OPTIONS: frozenset[str] = frozenset()
_PLAIN = frozenset({"keep-alive", "close"})


def connection_options(headers) -> frozenset[str]:
    """The header names a message's ``Connection`` header lists: hop-by-hop too
    (RFC 9110 §7.6.1). Usually ``keep-alive`` or nothing, which costs one lookup."""
    values = headers.getall("connection", ())
    if not values or (len(values) == 1 and values[0].lower() in _PLAIN):
        return _NO_OPTIONS  # keep-alive is hop-by-hop anyway
    return frozenset(token.strip().lower() for value in values for token in value.split(","))
