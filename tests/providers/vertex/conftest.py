"""Fixtures: a throwaway service account, the fake OAuth endpoint and Vertex, the SDK."""

from __future__ import annotations

import orjson
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gateway.providers.vertex.lifecycle import VERTEX_TOKENS
from tests.conftest import openai_sdk
from tests.fakes.serving import served
from tests.fakes.vertex import FakeGoogleOAuth, FakeVertex

PROJECT = "fake-project-1"
EMAIL = "gateway@fake-project-1.iam.gserviceaccount.com"
KEY_ID = "0123456789abcdef"


@pytest.fixture(scope="session")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def service_account_json(key: rsa.RSAPrivateKey, token_uri: str, **extra) -> dict:
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": KEY_ID,
        "private_key": pem.decode(),
        "client_email": EMAIL,
        "client_id": "100000000000000000001",
        "token_uri": token_uri,
        **extra,
    }


@pytest.fixture
async def oauth(aiohttp_server, rsa_key):
    fake = FakeGoogleOAuth()
    fake.register(KEY_ID, EMAIL, rsa_key.public_key())
    await served(aiohttp_server, fake, "/token")
    yield fake
    fake.gate.set()  # let a gated fetch end before the server closes


@pytest.fixture
async def fake_vertex(aiohttp_server, oauth):
    return await served(aiohttp_server, FakeVertex(oauth), "")


@pytest.fixture
def account(rsa_key, oauth) -> dict:
    return service_account_json(rsa_key, oauth.url)


@pytest.fixture
def tokens(gateway, oauth):
    """The gateway's token cache, told to trust the fake token endpoint."""
    tokens = gateway.app[VERTEX_TOKENS]
    tokens.token_uris.add(oauth.url)
    return tokens


@pytest.fixture
def vertex_headers(fake_vertex, account, tokens) -> dict[str, str]:
    return {
        "x-portkey-provider": "vertex-ai",
        "x-portkey-custom-host": fake_vertex.url,
        "x-portkey-vertex-service-account-json": orjson.dumps(account).decode(),
    }


@pytest.fixture
async def vertex(gateway, vertex_headers):
    """The official OpenAI SDK talking to Vertex through the gateway (no key: OAuth)."""
    client = openai_sdk(gateway, "unused", vertex_headers)
    yield client
    await client.close()
