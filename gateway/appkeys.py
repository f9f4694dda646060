"""Typed keys for what the application holds: settings and shared clients."""

from __future__ import annotations

import aiohttp
from aiohttp import web

from .providers.bedrock.credentials import AwsCredentialChain
from .settings import Settings

SETTINGS = web.AppKey("settings", Settings)
HTTP_SESSION = web.AppKey("http_session", aiohttp.ClientSession)
# The AWS identity (aiobotocore credential chain) for Bedrock calls that carry no keys.
AWS_CREDENTIALS = web.AppKey("aws_credentials", AwsCredentialChain)
