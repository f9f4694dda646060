"""Which cached answers a request may be compared with: its bucket.

Two requests share a bucket when everything but the embedded text is equal: the
same ``scope`` (the route — endpoint, provider and host —, the caller's identity
namespace, and the embeddings target's fingerprint, given by the caller) and the
same rest of the body (:class:`.prompt.SemanticQuery`: model, every parameter,
the other messages), compared with object keys in sorted order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import orjson

# Changed when what goes into a bucket changes: old buckets are then never read.
BUCKET_VERSION = "sc1"


def bucket_id(scope: Sequence[str], rest: Mapping[str, Any]) -> str:
    """A short stable name for the bucket (hex SHA-256)."""
    material = orjson.dumps([BUCKET_VERSION, list(scope), rest], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(material).hexdigest()
