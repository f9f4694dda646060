"""Client API keys: generated here, shown once, stored only as a hash.

A key is ``pk-`` + 43 characters of base64url (256 random bits). It is stored as its
plain SHA-256: with 256 bits of entropy no guess can find a key from its hash, so a
slow password hash (bcrypt, scrypt) would add nothing but per-request cost, and an
HMAC under the master key would tie every client key to that key (a lost or rotated
master key would lock every client out). A plain hash also lets a worker find a key
by hash in a dict: one hash and one lookup per request.
"""

from __future__ import annotations

import hashlib
import secrets

PREFIX = "pk-"


def new_api_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def masked(key: str) -> str:
    return f"{key[:7]}****{key[-4:]}"
