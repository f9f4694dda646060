"""Vectors as the semantic cache keeps them: float32, unit length.

With unit vectors, cosine similarity is a dot product: one matrix-vector product
scores a whole bucket. In Redis a vector is its little-endian float32 bytes after an
8-byte little-endian float64 expiry time (seconds since the epoch), one hash field
per cached answer (:mod:`.redis_index`).
"""

from __future__ import annotations

import struct

import numpy as np

DTYPE = np.dtype("<f4")
_EXPIRY = struct.Struct("<d")


def unit_vector(values) -> np.ndarray | None:
    """``values`` as a unit float32 vector; None if it is not a usable vector
    (empty, not one-dimensional, not finite, or all zeros)."""
    try:
        vector = np.asarray(values, dtype=DTYPE)
    except (TypeError, ValueError):
        return None
    if vector.ndim != 1 or not vector.size or not np.isfinite(vector).all():
        return None
    norm = float(np.linalg.norm(vector))
    if not norm or not np.isfinite(norm):
        return None
    return vector / np.float32(norm)


def record_dtype(dimensions: int) -> np.dtype:
    """One stored record: its expiry time, then its vector."""
    return np.dtype([("expires", "<f8"), ("vector", DTYPE, (dimensions,))])


def encode_record(vector: np.ndarray, expires_at: float) -> bytes:
    return _EXPIRY.pack(expires_at) + vector.astype(DTYPE, copy=False).tobytes()


def decode_records(values, dimensions: int) -> np.ndarray:
    """Records of ``dimensions`` (others, written for another model, are skipped) as
    one structured array: ``["expires"]`` and ``["vector"]`` (rows)."""
    dtype = record_dtype(dimensions)
    size = dtype.itemsize
    return np.frombuffer(b"".join(value for value in values if len(value) == size), dtype=dtype)
