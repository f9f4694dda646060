"""Which Google identity a Vertex call uses: the request's service account, or ADC.

A service account comes as its JSON key file, in ``x-portkey-vertex-service-account-json``
or ``vertex_service_account_json`` in the config (an object or a JSON string). Without
one, the gateway's own Application Default Credentials are used (``GOOGLE_APPLICATION_CREDENTIALS``,
gcloud's user credentials, or the metadata server on Google Cloud).

The key is a secret: it never appears in a ``repr``, a log line or an error message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from ...errors import BadRequest

HEADER = "x-portkey-vertex-service-account-json"
OPTION = "vertex_service_account_json"
# The token endpoints Google writes into service-account key files. A key naming any
# other URL is refused: the gateway would otherwise POST wherever a client tells it.
GOOGLE_TOKEN_URIS = frozenset({"https://oauth2.googleapis.com/token", "https://accounts.google.com/o/oauth2/token"})
_REQUIRED = ("client_email", "private_key")


@dataclass(frozen=True)
class ServiceAccount:
    """A parsed service-account key: ``info`` as google-auth takes it."""

    info: Mapping[str, Any] = field(repr=False)
    # Distinct keys never share a token, even for the same account email.
    fingerprint: str = field(repr=False)

    @property
    def project_id(self) -> str | None:
        project = self.info.get("project_id")
        return project if isinstance(project, str) and project else None

    @property
    def token_uri(self) -> str:
        return self.info["token_uri"]


class InvalidServiceAccount(ValueError):
    """What is wrong with a service-account key, in words that never quote it."""


def parse_service_account(value: Any) -> dict[str, Any]:
    """A service-account key (its JSON text, or the object) as google-auth takes it.

    Raises InvalidServiceAccount naming the problem: the caller says where the key
    came from (a header, a config, a virtual key's field).
    """
    info = value
    if isinstance(value, str | bytes):
        try:
            info = orjson.loads(value)
        except orjson.JSONDecodeError:
            info = None
    if not isinstance(info, dict):
        raise InvalidServiceAccount("is not a JSON object (send the service account's JSON key file)")
    if info.get("type", "service_account") != "service_account":
        raise InvalidServiceAccount("is not a service-account key (its type must be 'service_account')")
    for name in _REQUIRED:
        if not isinstance(info.get(name), str) or not info[name]:
            raise InvalidServiceAccount(f"has no {name}")
    info = dict(info)
    info.setdefault("token_uri", "https://oauth2.googleapis.com/token")
    if not isinstance(info["token_uri"], str):
        raise InvalidServiceAccount("has a token_uri that is not a string")
    return info


def service_account(options: Mapping[str, str]) -> ServiceAccount | None:
    """The request's service account, or None when it names none (ADC then)."""
    text = options.get(OPTION)
    if not text:
        return None
    try:
        info = parse_service_account(text)
    except InvalidServiceAccount as exc:
        raise _invalid(str(exc)) from None
    fingerprint = hashlib.sha256(orjson.dumps(info, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return ServiceAccount(info, fingerprint)


def _invalid(problem: str) -> BadRequest:
    return BadRequest(f"{HEADER}: the value {problem}", code="invalid_vertex_credentials", param=HEADER)
