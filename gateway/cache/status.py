"""The cache's names, in one place: statuses (``x-portkey-cache-status``) and headers.

The statuses are Portkey's: ``DISABLED`` (no cache applies), ``MISS`` / ``HIT``
(simple mode), ``SEMANTIC MISS`` / ``SEMANTIC HIT`` (semantic mode), ``REFRESH``
(``x-portkey-cache-force-refresh: true``: the lookup skipped, the fresh answer stored).
"""

from __future__ import annotations

HIT = "HIT"
MISS = "MISS"
REFRESH = "REFRESH"
DISABLED = "DISABLED"
SEMANTIC_HIT = "SEMANTIC HIT"
SEMANTIC_MISS = "SEMANTIC MISS"

STATUSES = (HIT, MISS, REFRESH, DISABLED, SEMANTIC_HIT, SEMANTIC_MISS)
# Answers served from the cache: no upstream call, zero upstream tokens.
HITS = frozenset({HIT, SEMANTIC_HIT})

STATUS_HEADER = "x-portkey-cache-status"
FORCE_REFRESH_HEADER = "x-portkey-cache-force-refresh"
# Partitions the cache further (per end user, per tenant): added to the key, never
# replacing the caller's identity.
NAMESPACE_HEADER = "x-portkey-cache-namespace"
