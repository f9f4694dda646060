"""One cached answer: status, headers and body chunks as the client first received them.

A streamed answer is kept as the chunks the relay wrote (one SSE event or a few per
chunk, as the upstream sent them), so a replay writes the same bytes in the same
pieces; a whole answer is one chunk. For Redis an entry is encoded as bytes (a
JSON head, then the chunks), zlib-compressed above ``COMPRESS_ABOVE`` bytes.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

import orjson

from ..answer import BytesAnswer

COMPRESS_ABOVE = 1024
_MAGIC = b"GWC1"
_PLAIN, _ZLIB = b"\x00", b"\x01"
_HEAD_LENGTH = struct.Struct(">I")


class BadEntry(ValueError):
    """Bytes that are not an entry this version wrote (another version's, or damaged)."""


@dataclass(frozen=True, slots=True)
class CachedAnswer:
    status: int
    headers: tuple[tuple[str, str], ...]
    chunks: tuple[bytes, ...]
    # time.time() when it was stored: its age decides whether a lookup may serve it.
    stored_at: float

    @property
    def size(self) -> int:
        """Bytes it holds (what the memory store's budget counts), roughly."""
        return sum(map(len, self.chunks)) + sum(len(name) + len(value) for name, value in self.headers) + 200

    def age(self, now: float) -> float:
        return now - self.stored_at

    def answer(self) -> BytesAnswer:
        """A fresh answer to relay (each hit reads its own)."""
        return BytesAnswer(self.status, self.headers, self.chunks)

    def encode(self, compress_above: int = COMPRESS_ABOVE) -> bytes:
        head = orjson.dumps(
            {"s": self.status, "h": self.headers, "t": self.stored_at, "n": [len(chunk) for chunk in self.chunks]}
        )
        payload = b"".join((_HEAD_LENGTH.pack(len(head)), head, *self.chunks))
        if len(payload) > compress_above:
            return _MAGIC + _ZLIB + zlib.compress(payload, 6)
        return _MAGIC + _PLAIN + payload

    @classmethod
    def decode(cls, blob: bytes) -> CachedAnswer:
        if blob[:4] != _MAGIC or blob[4:5] not in (_PLAIN, _ZLIB):
            raise BadEntry("not a cache entry of this version")
        payload = memoryview(blob)[5:]
        try:
            if blob[4:5] == _ZLIB:
                payload = memoryview(zlib.decompress(payload))
            (length,) = _HEAD_LENGTH.unpack(payload[:4])
            head = orjson.loads(payload[4 : 4 + length])
            chunks, at = [], 4 + length
            for size in head["n"]:
                chunks.append(bytes(payload[at : at + size]))
                at += size
            if at != len(payload):
                raise BadEntry("cache entry of the wrong length")
            headers = tuple((name, value) for name, value in head["h"])
            return cls(int(head["s"]), headers, tuple(chunks), float(head["t"]))
        except (zlib.error, struct.error, orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise BadEntry(f"damaged cache entry: {type(exc).__name__}") from None
