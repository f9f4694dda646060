"""Fixtures for the Bedrock tests: the fake Bedrock, a clean AWS environment, SDK clients."""

from __future__ import annotations

import anthropic
import pytest

from tests.conftest import openai_sdk
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY
from tests.providers.bedrock.samples import REGION


@pytest.fixture(autouse=True)
def no_ambient_aws(monkeypatch, tmp_path):
    """The developer's or CI's own AWS identity must never leak into a test."""
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def bedrock_headers(fake_bedrock) -> dict[str, str]:
    return {
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": fake_bedrock.url,
        "x-portkey-aws-access-key-id": ACCESS_KEY,
        "x-portkey-aws-secret-access-key": SECRET_KEY,
        "x-portkey-aws-region": REGION,
    }


@pytest.fixture
async def bedrock_sdk(gateway, bedrock_headers):
    client = openai_sdk(gateway, "unused", bedrock_headers)
    yield client
    await client.close()


@pytest.fixture
async def bedrock_anthropic(gateway, bedrock_headers):
    client = anthropic.AsyncAnthropic(
        base_url=str(gateway.make_url("")), api_key="unused", default_headers=bedrock_headers, max_retries=0
    )
    yield client
    await client.close()
