"""A ``vertex-ai`` virtual key's fields: the service account's key file and its options.

``vertexServiceAccountJson`` is the key file Google hands out, as an object or as its
JSON text; it is checked here (a service-account key whose private key reads) and kept
as a sealed secret, compact. ``vertexProjectId`` / ``vertexRegion`` are Portkey's names
for the project and the location. Without a key file the gateway's own Application
Default Credentials are used; without a project, the key file's ``project_id``.
Problems are named by field and never quote the key.
"""

from __future__ import annotations

from typing import Any

import orjson
from google.auth import crypt

from ..providers.vertex.credentials import InvalidServiceAccount, parse_service_account
from ..providers.vertex.provider import is_project_id, is_region
from ..store import VirtualKey
from .fields import Fields

PROVIDER = "vertex-ai"
SERVICE_ACCOUNT_FIELD = ("vertexServiceAccountJson", "vertex_service_account_json")
# Fields of other providers that have no meaning on a vertex-ai virtual key.
_FOREIGN_MODEL_CONFIG = ("resourceName", "deploymentName", "apiVersion", "deploymentConfig", "awsAccessKeyId", "awsRegion")


def service_account_json(fields: Fields) -> str | None:
    """The body's key file as compact JSON text; None when it clears it (null or "")."""
    name = next(name for name in SERVICE_ACCOUNT_FIELD if name in fields.body)
    value: Any = fields.body[name]
    if value is None or value == "":
        return None
    if not isinstance(value, str | dict):
        fields.add(name, "must be the service account's JSON key file: an object or its JSON text")
        return None
    try:
        info = parse_service_account(value)
        crypt.RSASigner.from_service_account_info(info)
    except InvalidServiceAccount as exc:
        fields.add(name, str(exc))
        return None
    except ValueError:  # google-auth's message may quote the key: not passed on
        fields.add(name, "has a private_key that is not a readable PEM private key")
        return None
    return orjson.dumps(info).decode()


def check(fields: Fields, vk: VirtualKey) -> None:
    """Vertex fields only on a vertex-ai virtual key; on one, only fields it can use."""
    config = vk.model_config
    if vk.provider != PROVIDER:
        present = [name for name in ("vertexProjectId", "vertexRegion") if config.get(name)]
        if vk.credentials.vertex_service_account_json:
            present.insert(0, SERVICE_ACCOUNT_FIELD[0])
        for name in present:
            fields.add(name, f"only for provider {PROVIDER}")
        return
    if vk.credentials.api_key:
        fields.add("key", f"{PROVIDER} signs in with a service account: give vertexServiceAccountJson, not key")
    if vk.credentials.aws_secret_access_key or vk.credentials.aws_session_token:
        fields.add("awsSecretAccessKey", f"not a {PROVIDER} field")
    for name in _FOREIGN_MODEL_CONFIG:
        if config.get(name):
            fields.add(name, f"not a {PROVIDER} field")
    region = config.get("vertexRegion")
    if region and not is_region(region):
        fields.add("vertexRegion", "not a Vertex AI location (e.g. us-central1, europe-west4, global)")
    project = config.get("vertexProjectId")
    if project and not is_project_id(project):
        fields.add("vertexProjectId", "not a Google Cloud project id")
