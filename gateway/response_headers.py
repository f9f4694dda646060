"""Which upstream response headers reach the client: an allow list.

An upstream answers with headers for its own clients and its own infrastructure
(cookies, CDN and mesh diagnostics, internal tokens); only those a client of an LLM
API uses pass on: the body's type, request ids, rate-limit and retry hints, and the
provider's own documented headers. Everything else is dropped, and so is any header
the upstream's ``Connection`` header names (RFC 9110 §7.6.1), whatever the list says.

The operator adds names and prefixes with ``--pass-response-headers`` (``x-foo,
x-bar-*``). The list is built once at start: a frozenset of names and a tuple of
prefixes, so the check per header is one set lookup and one ``str.startswith``.
"""

from __future__ import annotations

import re

from .hop_by_hop import HOP_BY_HOP

# Request ids: OpenAI and most OpenAI-compatible APIs, Anthropic, Bedrock, Azure.
REQUEST_ID_HEADERS = frozenset(
    {"x-request-id", "request-id", "x-amzn-requestid", "apim-request-id", "x-ms-request-id", "x-ms-client-request-id"}
)
# Retry hints: the OpenAI and Anthropic SDKs read the first three; Azure's own.
RETRY_HINT_HEADERS = frozenset({"retry-after", "retry-after-ms", "x-should-retry", "x-ms-retry-after-ms"})

PASSED_NAMES = REQUEST_ID_HEADERS | RETRY_HINT_HEADERS | frozenset(
    {
        # The body, as the client receives it (aiohttp decodes it and the gateway frames it).
        "content-type",
        "content-disposition",  # file downloads (/v1/files/{id}/content)
        "x-ms-region",
        # Bedrock's error type (``ValidationException:...``), read by AWS SDKs.
        "x-amzn-errortype",
    }
)

PASSED_PREFIXES = (
    "x-ratelimit-",  # OpenAI, Azure, Groq, Together, ... limits, remaining, reset
    "openai-",  # openai-organization, -processing-ms, -version, -project
    "anthropic-",  # anthropic-ratelimit-*, anthropic-organization-id
    "x-amzn-bedrock-",  # invocation latency, token counts, content type, service tier
)

# Never passed, whatever an operator adds: they describe this connection or the
# upstream's framing of the body, which the gateway replaces with its own.
NEVER_PASSED = HOP_BY_HOP | {"content-length", "content-encoding"}

_DECISIONS_KEPT = 4096

_TOKEN = re.compile(r"[!#$%&'+.^_`|~0-9a-z-]+")


class HeaderAllowList:
    """The names and prefixes passed to clients: the defaults plus ``extra``.

    ``extra`` is the operator's comma-separated list; ``name*`` is a prefix. A bad
    entry raises ValueError (settings turn it into a one-line start-up error).
    """

    __slots__ = ("names", "prefixes", "extra", "decided")

    def __init__(self, extra: str = "") -> None:
        names: set[str] = set()
        prefixes: list[str] = []
        items = [item.strip().lower() for item in extra.split(",")] if extra.strip() else []
        if "" in items:  # as every list setting: a stray comma is a mistake, not nothing
            raise ValueError(f"empty item in the list (two commas in a row, or one at an end?): {extra!r}")
        for item in items:
            is_prefix = item.endswith("*")
            stem = item[:-1] if is_prefix else item
            if not _TOKEN.fullmatch(stem):
                raise ValueError(f"{item!r} is not a header name (or a name prefix ending in *)")
            if is_prefix:
                if any(never.startswith(stem) for never in NEVER_PASSED):
                    raise ValueError(f"{item!r} would pass connection or framing headers")
                prefixes.append(stem)
            else:
                if stem in NEVER_PASSED:
                    raise ValueError(f"{item!r} is a connection or framing header, never passed")
                names.add(stem)
        self.names = PASSED_NAMES | names
        self.prefixes = PASSED_PREFIXES + tuple(prefixes)
        self.extra = ",".join(sorted(names) + sorted(p + "*" for p in prefixes))
        # Header name as received → passed?  Upstreams send the same few dozen names
        # in the same case every time, so one dict lookup answers most of them.
        self.decided: dict[str, bool] = {}

    def passes(self, name: str) -> bool:
        """Whether a header named ``name`` (in any case) may reach the client."""
        passed = self.decided.get(name)
        if passed is None:
            lower = name.lower()
            passed = lower in self.names or lower.startswith(self.prefixes)
            if len(self.decided) < _DECISIONS_KEPT:  # bounded, whatever an upstream invents
                self.decided[name] = passed
        return passed

    def __eq__(self, other: object) -> bool:
        return isinstance(other, HeaderAllowList) and (self.names, self.prefixes) == (other.names, other.prefixes)

    def __hash__(self) -> int:
        return hash((self.names, self.prefixes))

    def __repr__(self) -> str:
        return f"HeaderAllowList({self.extra!r})"
