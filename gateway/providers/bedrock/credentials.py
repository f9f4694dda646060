"""AWS credentials for one call: the request's own keys, or the standard chain.

Keys given with the request (``x-portkey-aws-*`` headers or the config's ``aws_*``
fields) win. A request that gives none uses the process's AWS identity through
aiobotocore's standard chain (environment, shared config and credentials files,
container role, instance role) — resolved once per process, then refreshed by
aiobotocore itself, asynchronously, before it expires. Half a key pair is a client
mistake (400), never silently completed from the chain.

Credentials are secrets: they never appear in a ``repr``, a log line or an error.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from ...errors import BadRequest, GatewayError

log = logging.getLogger("gateway.aws")


@dataclass(frozen=True)
class AwsCredentials:
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    token: str | None = field(default=None, repr=False)


class AwsCredentialChain:
    """The process-wide AWS identity, created once in a cleanup context.

    Resolving the chain may query the container or instance metadata endpoints; it
    happens on first use (not at start-up, so a gateway that never calls Bedrock never
    probes them), once, under a lock.
    """

    def __init__(self, session: AioSession | None = None, on_event: Callable[[str], None] | None = None) -> None:
        self._session = session or get_session()
        self._lock = asyncio.Lock()
        self._credentials = None
        self._resolved = False
        # Told "resolved", "refreshed" (the keys changed: aiobotocore renewed them) or
        # "failed"; for the gateway_bedrock_credential_refreshes metric.
        self._on_event = on_event or _ignore
        self._last_key: tuple[str, str | None] | None = None

    async def current(self) -> AwsCredentials | None:
        try:
            if not self._resolved:
                async with self._lock:
                    if not self._resolved:
                        self._credentials = await self._session.get_credentials()
                        self._resolved = True
            if self._credentials is None:
                return None
            # Refreshable credentials renew themselves here, without blocking the loop.
            frozen = await self._credentials.get_frozen_credentials()
        except (BotoCoreError, ClientError, OSError) as exc:
            # botocore's messages can name files and roles: the log and the client get
            # the error's kind only. A failed resolution is tried again next call.
            log.warning("AWS credential chain failed: %s", type(exc).__name__)
            self._on_event("failed")
            raise GatewayError(
                f"the gateway could not obtain its AWS credentials ({type(exc).__name__})",
                status=500,
                code="aws_credentials_unavailable",
            ) from None
        key = (frozen.access_key, frozen.token)
        if key != self._last_key:
            self._on_event("resolved" if self._last_key is None else "refreshed")
            self._last_key = key
        return AwsCredentials(frozen.access_key, frozen.secret_key, frozen.token)


def _ignore(event: str) -> None:
    pass


def request_credentials(options: Mapping[str, str]) -> AwsCredentials | None:
    """The keys the request carries, or None when it carries none at all."""
    if options.get("aws_role_arn"):
        # Refused rather than ignored: silently calling with the base identity instead
        # of the role would be a surprise with real consequences (billing, permissions).
        raise BadRequest(
            "x-portkey-aws-role-arn: assuming an AWS role is not supported by this gateway; "
            "send the role's temporary credentials (access key id, secret and session token)",
            code="unsupported_aws_auth",
            param="x-portkey-aws-role-arn",
        )
    key_id = options.get("aws_access_key_id")
    secret = options.get("aws_secret_access_key")
    token = options.get("aws_session_token")
    if key_id and secret:
        return AwsCredentials(key_id, secret, token)
    if key_id or secret or token:
        missing = "x-portkey-aws-secret-access-key" if key_id else "x-portkey-aws-access-key-id"
        raise BadRequest(
            f"incomplete AWS credentials: {missing} is missing "
            "(send both the access key id and the secret access key, or neither to use "
            "the gateway's own AWS identity)",
            code="missing_aws_credentials",
            param=missing,
        )
    return None


async def resolve(options: Mapping[str, str], chain: AwsCredentialChain | None) -> AwsCredentials:
    credentials = request_credentials(options)
    if credentials is not None:
        return credentials
    if chain is not None:
        credentials = await chain.current()
    if credentials is None:
        # A 400, like any other missing request field (the contract), not a 401:
        # nothing was presented that could be rejected.
        raise BadRequest(
            "no AWS credentials: send x-portkey-aws-access-key-id and "
            "x-portkey-aws-secret-access-key (or aws_access_key_id / aws_secret_access_key in "
            "x-portkey-config), or give the gateway an AWS identity (environment, shared "
            "config, container or instance role)",
            code="missing_aws_credentials",
        )
    return credentials
