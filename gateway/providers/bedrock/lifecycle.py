"""The process's AWS session, opened once in ``app.cleanup_ctx``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import web

from ...observability import METRICS
from .credentials import AwsCredentialChain

# The AWS identity (aiobotocore credential chain) for Bedrock calls that carry no keys.
AWS_CREDENTIALS = web.AppKey("aws_credentials", AwsCredentialChain)


async def aws_credentials_context(app: web.Application) -> AsyncIterator[None]:
    # One aiobotocore session for the process: the credential chain it resolves and
    # refreshes is shared by every Bedrock call that carries no keys of its own.
    app[AWS_CREDENTIALS] = AwsCredentialChain(on_event=app[METRICS].aws_credentials)
    yield
