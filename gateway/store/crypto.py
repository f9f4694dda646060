"""Secrets at rest: AES-256-GCM under a master key read from a file.

The file holds at least 32 bytes of random text (``openssl rand -base64 32``); the
AES key and an 8-byte key identifier are both derived from it with HKDF-SHA256, so
any encoding of enough randomness works. A sealed value is
``v1.<key id>.<base64url(nonce || ciphertext+tag)>``: the key id tells a wrong master
key apart from a damaged value, and the associated data (the row's identity) stops
a ciphertext from being moved to another row.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

MIN_KEY_BYTES = 32
_VERSION = "v1"


class MasterKeyError(Exception):
    """The master key is missing, unreadable, too short, or not the one the store used."""


def _derive(material: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(material)


@dataclass(frozen=True)
class MasterKey:
    key_id: str
    _aead: AESGCM = field(repr=False)

    @classmethod
    def from_bytes(cls, material: bytes) -> MasterKey:
        material = material.strip()
        if len(material) < MIN_KEY_BYTES:
            raise MasterKeyError(f"the master key must hold at least {MIN_KEY_BYTES} bytes (openssl rand -base64 32)")
        key_id = _derive(material, b"ai-gateway master key id v1", 8).hex()
        return cls(key_id, AESGCM(_derive(material, b"ai-gateway aes-256-gcm v1", 32)))

    @classmethod
    def from_file(cls, path: str | os.PathLike) -> MasterKey:
        try:
            material = Path(path).read_bytes()
        except OSError as exc:
            raise MasterKeyError(f"cannot read the master key file {path}: {exc.strerror}") from None
        return cls.from_bytes(material)

    def seal(self, plaintext: bytes, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext, context.encode())
        return f"{_VERSION}.{self.key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, value: str, context: str) -> bytes:
        version, key_id, payload = _split(value)
        if key_id != self.key_id:
            raise MasterKeyError(f"a value was sealed under master key {key_id}, not this one ({self.key_id})")
        raw = base64.urlsafe_b64decode(payload)
        try:
            return self._aead.decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag:
            raise MasterKeyError(f"a sealed value for {context} does not verify (damaged or moved)") from None


def sealed_key_id(value: str) -> str:
    return _split(value)[1]


def _split(value: str) -> tuple[str, str, str]:
    parts = value.split(".", 2)
    if len(parts) != 3 or parts[0] != _VERSION:
        raise MasterKeyError("a sealed value is not in the v1 format")
    return parts[0], parts[1], parts[2]
