"""SigV4 over the request exactly as it will be sent, with botocore's signer.

What AWS verifies is what aiohttp puts on the wire, so the three things that are easy
to get subtly wrong are taken from the final request, not rebuilt:

* the path as sent: the gateway's URLs are built already percent-encoded
  (``encoded=True``, so aiohttp sends them verbatim); botocore's canonical URI then
  encodes that path once more, which is what SigV4 specifies for every service but S3;
* the Host header as sent, port included when it is not the scheme's default (a custom
  host such as ``http://127.0.0.1:8123``); it is set explicitly so that aiohttp and
  the signature cannot disagree;
* the exact body bytes (their SHA-256 is part of the signature).
"""

from __future__ import annotations

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from yarl import URL

from ..base import UpstreamRequest
from .credentials import AwsCredentials

SERVICE = "bedrock"

# Headers whose value the signature covers; AWS needs no others, and signing fewer
# leaves intermediaries free to add theirs (botocore leaves out User-Agent likewise).
_SIGNED = ("host", "content-type", "accept", "x-amz-content-sha256")


def host_header(url: URL) -> str:
    host = url.raw_host or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if url.explicit_port is not None and url.explicit_port != {"http": 80, "https": 443}.get(url.scheme):
        host = f"{host}:{url.explicit_port}"
    return host


def sign(request: UpstreamRequest, credentials: AwsCredentials, region: str) -> None:
    """Add ``Authorization``, ``X-Amz-Date`` (and the session token) to ``request``."""
    body = request.body
    if not isinstance(body, bytes):
        raise TypeError("a SigV4-signed request needs its whole body as bytes")
    request.headers["Host"] = host_header(request.url)
    signed = {name: request.headers[name] for name in _SIGNED if name in request.headers}
    aws_request = AWSRequest(method=request.method, url=str(request.url), data=body, headers=signed)
    signer = SigV4Auth(
        Credentials(credentials.access_key, credentials.secret_key, credentials.token), SERVICE, region
    )
    signer.add_auth(aws_request)
    for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
        value = aws_request.headers.get(name)
        if value is not None:
            request.headers[name] = value
