"""SigV4 over the exact request sent, credentials resolution, region and URL rules."""

from __future__ import annotations

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict, CIMultiDictProxy
from yarl import URL

from gateway.config import Target
from gateway.errors import BadRequest, GatewayError, NotFound
from gateway.providers.base import Call, UpstreamRequest
from gateway.providers.bedrock.credentials import AwsCredentialChain, AwsCredentials, request_credentials, resolve
from gateway.providers.bedrock.provider import Bedrock, region_of
from gateway.providers.bedrock.signing import host_header, sign
from tests.bedrock_support import no_ambient_aws  # noqa: F401 (autouse fixture)

CREDS = AwsCredentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "token/with+chars==")


def signed_request(url: str, body: bytes = b'{"messages":[]}') -> UpstreamRequest:
    request = UpstreamRequest("POST", URL(url, encoded=True), CIMultiDict({"Content-Type": "application/json"}), body)
    sign(request, CREDS, "eu-west-3")
    return request


def recompute(request: UpstreamRequest, body: bytes) -> str:
    """What AWS computes on its side from what it received (with botocore)."""
    auth = request.headers["Authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    headers = {name: request.headers[name] for name in signed}
    received = AWSRequest(method="POST", url=str(request.url), data=body, headers=headers)
    received.context["timestamp"] = request.headers["X-Amz-Date"]
    signer = SigV4Auth(Credentials(CREDS.access_key, CREDS.secret_key, CREDS.token), "bedrock", "eu-west-3")
    return signer.signature(signer.string_to_sign(received, signer.canonical_request(received)), received)


def test_signature_covers_path_host_body_and_token():
    request = signed_request("http://127.0.0.1:8123/model/a.b-v1%3A0/converse")
    auth = request.headers["Authorization"]
    assert auth.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-3/bedrock/aws4_request" in auth
    assert "SignedHeaders=content-type;host;x-amz-date;x-amz-security-token," in auth
    assert request.headers["Host"] == "127.0.0.1:8123"
    assert request.headers["X-Amz-Security-Token"] == CREDS.token
    signature = auth.rsplit("Signature=", 1)[1]
    assert recompute(request, b'{"messages":[]}') == signature
    assert recompute(request, b'{"messages":[1]}') != signature


def test_canonical_uri_encodes_the_sent_path_again():
    request = signed_request("https://bedrock-runtime.eu-west-3.amazonaws.com/model/a.b-v1%3A0/converse")
    received = AWSRequest(method="POST", url=str(request.url), data=b"", headers={})
    canonical = SigV4Auth(Credentials("a", "b"), "bedrock", "eu-west-3").canonical_request(received)
    assert canonical.split("\n")[1] == "/model/a.b-v1%253A0/converse"
    assert request.headers["Host"] == "bedrock-runtime.eu-west-3.amazonaws.com"


@pytest.mark.parametrize(
    "url, host",
    [
        ("https://h.example/x", "h.example"),
        ("https://h.example:443/x", "h.example"),
        ("http://h.example:80/x", "h.example"),
        ("https://h.example:8443/x", "h.example:8443"),
        ("http://[::1]:9000/x", "[::1]:9000"),
    ],
)
def test_host_header_as_sent(url, host):
    assert host_header(URL(url)) == host


def test_request_credentials():
    assert request_credentials({}) is None
    keys = request_credentials({"aws_access_key_id": "A", "aws_secret_access_key": "S", "aws_session_token": "T"})
    assert (keys.access_key, keys.secret_key, keys.token) == ("A", "S", "T")
    assert "S" not in repr(keys) and "T" not in repr(keys)
    with pytest.raises(BadRequest) as caught:
        request_credentials({"aws_access_key_id": "AKIDSECRETISH"})
    assert caught.value.param == "x-portkey-aws-secret-access-key"
    assert "AKIDSECRETISH" not in caught.value.message
    with pytest.raises(BadRequest):
        request_credentials({"aws_session_token": "T"})


async def test_chain_reads_the_environment_once(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    chain = AwsCredentialChain()
    first = await resolve({}, chain)
    assert (first.access_key, first.secret_key, first.token) == ("AKIDENV", "env-secret", None)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDOTHER")  # resolved once: the same identity
    assert (await resolve({}, chain)).access_key == "AKIDENV"
    # Keys in the request win over the chain.
    assert (await resolve({"aws_access_key_id": "A", "aws_secret_access_key": "S"}, chain)).access_key == "A"


async def test_no_credentials_anywhere_is_a_clear_400():
    with pytest.raises(BadRequest) as caught:
        await resolve({}, AwsCredentialChain())
    assert caught.value.code == "missing_aws_credentials"


def test_region(monkeypatch):
    assert region_of(Target("bedrock")) == "us-east-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")
    assert region_of(Target("bedrock")) == "eu-central-1"
    assert region_of(Target("bedrock", options={"aws_region": "us-gov-west-1"})) == "us-gov-west-1"
    for bad in ("us-east-1.attacker.example", "US-EAST-1", "us_east_1", ""):
        if bad:
            with pytest.raises(BadRequest):
                region_of(Target("bedrock", options={"aws_region": bad}))


def call(endpoint: str, body: dict) -> Call:
    import orjson

    return Call("POST", endpoint, "", CIMultiDictProxy(CIMultiDict()), body=orjson.dumps(body), json=body)


def test_default_url_and_operations():
    provider = Bedrock()
    target = Target("bedrock", options={"aws_region": "ap-northeast-1"})
    chat = provider.prepare(call("chat/completions", {"model": "meta.llama3-1-70b-instruct-v1:0", "messages": [{"role": "user", "content": "x"}], "stream": True}), target)
    assert str(chat.url) == "https://bedrock-runtime.ap-northeast-1.amazonaws.com/model/meta.llama3-1-70b-instruct-v1%3A0/converse-stream"
    assert chat.headers["Accept"] == "application/vnd.amazon.eventstream"
    custom = Target("bedrock", custom_host="http://127.0.0.1:9999/prefix")
    embed = provider.prepare(call("embeddings", {"model": "amazon.titan-embed-text-v2:0", "input": "x"}), custom)
    assert str(embed.url) == "http://127.0.0.1:9999/prefix/model/amazon.titan-embed-text-v2%3A0/invoke"
    with pytest.raises(NotFound):
        provider.prepare(call("images/generations", {"model": "m"}), target)
    with pytest.raises(BadRequest, match="model"):
        provider.prepare(call("chat/completions", {"messages": []}), target)


def test_role_arn_is_refused_not_ignored():
    with pytest.raises(BadRequest) as caught:
        request_credentials({"aws_role_arn": "arn:aws:iam::1:role/r", "aws_access_key_id": "A", "aws_secret_access_key": "S"})
    assert caught.value.code == "unsupported_aws_auth"


@pytest.mark.parametrize("process", ["/nonexistent/secret-helper --token s3cr3t", "/bin/false s3cr3t"])
async def test_chain_failure_is_a_500_without_details(tmp_path, monkeypatch, process):
    # A profile whose credential process is missing or fails: botocore raises.
    config = tmp_path / "config"
    config.write_text(f"[default]\ncredential_process = {process}\n")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    with pytest.raises(GatewayError) as caught:
        await resolve({}, AwsCredentialChain())
    assert caught.value.status == 500 and caught.value.code == "aws_credentials_unavailable"
    assert "s3cr3t" not in caught.value.message


def test_debug_logging_never_shows_the_signers_canonical_request(caplog):
    import logging

    from gateway.log import configure_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("debug")
        with caplog.at_level(logging.DEBUG):
            signed_request("http://127.0.0.1:1/model/m/converse")
        assert CREDS.token not in caplog.text
        assert not logging.getLogger("botocore.auth").isEnabledFor(logging.DEBUG)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("botocore").setLevel(logging.NOTSET)
