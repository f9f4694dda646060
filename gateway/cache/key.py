"""The cache key: what makes two requests "the same request" for the cache.

A key is a BLAKE2b digest (hex) of, in a canonical JSON list:

* the route: method, endpoint (``chat/completions``), query string;
* the target: provider, custom host, provider options (Azure deployment and API
  version, AWS region, ...), and the request headers that reach the upstream and
  can change its answer (``accept``, ``openai-beta``, ``anthropic-version``,
  ``anthropic-beta``, and the target's ``forward_headers``);
* the body as this target sends it (after ``override_params``), keys sorted, so key
  order and whitespace never matter, any other difference (model, messages,
  ``temperature``, ``stream``) does;
* ``x-portkey-cache-namespace``, when sent;
* the caller's identity: the provider key, the virtual key and the gateway key
  (``x-portkey-api-key``), unless the operator turned on ``--cache-shared``.

Only the digest is kept and sent to Redis: no secret is ever stored in a key. A key
also has a ``partition``: the same digest without the body, for a lookup that
searches among the answers of one caller, route and target (the semantic mode).
Requests without a JSON object body (GET, multipart uploads) have no key: the cache
never applies to them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson
from multidict import CIMultiDictProxy

from ..config import Target
from ..providers.base import Call
from .status import NAMESPACE_HEADER

# Client headers that may reach an upstream and change its answer.
ANSWER_HEADERS = ("accept", "openai-beta", "anthropic-version", "anthropic-beta")
GATEWAY_KEY_HEADER = "x-portkey-api-key"
_VERSION = "gwc1"


@dataclass(frozen=True, slots=True)
class CacheKey:
    digest: str
    # The digest of everything but the body (the semantic mode searches within one).
    partition: str


def cache_key(call: Call, target: Target, headers: CIMultiDictProxy[str], *, shared: bool) -> CacheKey | None:
    """The key of ``call`` sent to ``target`` (None: not cacheable)."""
    if call.json is None or call.method != "POST":
        return None
    names = ANSWER_HEADERS + target.forward_headers if target.forward_headers else ANSWER_HEADERS
    identity = None if shared else (target.api_key, target.virtual_key, headers.get(GATEWAY_KEY_HEADER))
    context = orjson.dumps(
        [
            _VERSION,
            call.method,
            call.endpoint,
            call.query_string,
            target.provider,
            target.custom_host,
            dict(target.options),
            [headers.getall(name, None) for name in names],
            headers.get(NAMESPACE_HEADER),
            identity,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    partition = hashlib.blake2b(context, digest_size=20)
    whole = partition.copy()
    whole.update(orjson.dumps(call.json, option=orjson.OPT_SORT_KEYS))
    return CacheKey(whole.hexdigest(), partition.hexdigest())
