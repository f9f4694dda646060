"""Upstream response headers reach the client by an allow list (gateway/response_headers.py):
what LLM API clients use passes, the upstream's infrastructure and internal headers do not,
nor any header the upstream's Connection header lists; operators add names and prefixes."""

from __future__ import annotations

import pytest

from gateway.response_headers import HeaderAllowList
from gateway.settings import Settings, SettingsError, parse_settings
from tests.fakes.anthropic import FakeAnthropic
from tests.fakes.bedrock import ACCESS_KEY, SECRET_KEY, FakeBedrock
from tests.fakes.openai import CLOUDFLARE_HEADERS, FILE_CONTENT, Fail

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}
INTERNAL = {"X-Internal-Token": "internal-secret-0001", "X-Backend-Pod": "inference-7f9c"}
# Never relayed: the upstream's edge and its internals (the gateway's server sends its own Server).
DROPPED = {name.lower() for name in {**CLOUDFLARE_HEADERS, **INTERNAL}} - {"server"}
OPENAI_PASSED = {
    "x-request-id": "req_fake_0001",
    "openai-organization": "org-fake",
    "openai-processing-ms": "12",
    "openai-version": "2020-10-01",
    "x-ratelimit-limit-requests": "10000",
    "x-ratelimit-limit-tokens": "30000000",
    "x-ratelimit-remaining-requests": "9999",
    "x-ratelimit-remaining-tokens": "29999990",
    "x-ratelimit-reset-requests": "6ms",
    "x-ratelimit-reset-tokens": "0s",
}


def names(response) -> set[str]:
    return {name.lower() for name in response.headers}


@pytest.fixture
def noisy_openai(fake_openai):
    fake_openai.extra_headers = {**CLOUDFLARE_HEADERS, **INTERNAL}
    return fake_openai


@pytest.mark.parametrize("stream", [False, True])
async def test_openai_headers_pass_and_the_rest_is_dropped(client, auth_headers, noisy_openai, stream):
    response = await client.post("/v1/chat/completions", json={**CHAT, "stream": stream}, headers=auth_headers)
    assert response.status == 200
    await response.read()
    for name, value in OPENAI_PASSED.items():
        assert response.headers[name] == value
    assert response.headers["Content-Type"].startswith("text/event-stream" if stream else "application/json")
    assert names(response) & DROPPED == set()
    assert "internal-secret" not in str(response.headers)
    # The gateway's own, and its server's: not the upstream's.
    assert response.headers["Server"] != "cloudflare"
    assert response.headers["x-portkey-provider"] == "openai"


async def test_retry_hints_of_an_error_answer_pass(client, auth_headers, noisy_openai):
    retry = {"retry-after": "2", "retry-after-ms": "1500", "x-should-retry": "true"}
    noisy_openai.script = [Fail(429, "Rate limit reached", "requests", {**retry, **OPENAI_PASSED})]
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 429
    for name, value in {**retry, **OPENAI_PASSED}.items():
        assert response.headers[name] == value
    assert names(response) & DROPPED == set()


async def test_a_file_download_keeps_its_type_and_disposition(client, auth_headers, noisy_openai):
    response = await client.get("/v1/files/file-abc123/content", headers=auth_headers)
    assert response.status == 200
    assert await response.read() == FILE_CONTENT
    assert response.headers["Content-Type"] == "application/octet-stream"
    assert response.headers["Content-Disposition"] == 'attachment; filename="batch_input.jsonl"'
    assert response.headers["x-request-id"] == "req_file"
    assert names(response) & DROPPED == set()


@pytest.mark.parametrize(
    "settings", [Settings(pass_response_headers=HeaderAllowList("x-backend-pod, X-Team-*"))]
)
async def test_operator_adds_names_and_prefixes(client, auth_headers, fake_openai, settings):
    fake_openai.extra_headers = {**INTERNAL, "x-team-cost": "0.02", "x-team-route": "eu", "x-teams": "no"}
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 200
    assert response.headers["X-Backend-Pod"] == "inference-7f9c"
    assert (response.headers["x-team-cost"], response.headers["x-team-route"]) == ("0.02", "eu")
    assert {"x-internal-token", "x-teams"} & names(response) == set()


@pytest.mark.parametrize("settings", [Settings(pass_response_headers=HeaderAllowList("x-hop-*"))])
async def test_headers_the_connection_header_lists_are_dropped(client, auth_headers, fake_openai, settings):
    # RFC 9110 §7.6.1: what Connection names describes that connection only, even a
    # request id or a name the operator allowed.
    fake_openai.extra_headers = {
        "Connection": "keep-alive, X-Hop-Lease, x-request-id",
        "X-Hop-Lease": "conn-41",
        "X-Hop-Kept": "yes",
    }
    response = await client.post("/v1/chat/completions", json=CHAT, headers=auth_headers)
    assert response.status == 200
    assert response.headers["X-Hop-Kept"] == "yes"
    assert {"x-hop-lease", "x-request-id"} & names(response) == set()
    assert response.headers["x-ratelimit-remaining-requests"] == "9999"


async def test_anthropic_headers_reach_an_openai_client(client, aiohttp_server):
    fake = FakeAnthropic(extra_headers={**CLOUDFLARE_HEADERS, **INTERNAL})
    server = await aiohttp_server(fake.app())
    headers = {
        "x-portkey-provider": "anthropic",
        "x-portkey-custom-host": str(server.make_url("/v1")),
        "Authorization": "Bearer sk-ant-test-0123",
    }
    for stream in (False, True):
        body = {**CHAT, "model": "claude-sonnet-4-5", "max_tokens": 50, "stream": stream}
        response = await client.post("/v1/chat/completions", json=body, headers=headers)
        assert response.status == 200
        await response.read()
        assert response.headers["request-id"] == "req_fake_anthropic"
        assert response.headers["anthropic-organization-id"].endswith("fake")
        assert response.headers["anthropic-ratelimit-requests-remaining"] == "3999"
        assert response.headers["anthropic-ratelimit-tokens-reset"] == "2026-01-01T00:00:01Z"
        assert response.headers["Content-Type"].startswith("text/event-stream" if stream else "application/json")
        assert names(response) & DROPPED == set()


async def test_bedrock_request_id_and_error_type_pass(client, aiohttp_server):
    bedrock_own = {"X-Amzn-Bedrock-Invocation-Latency": "321", "X-Amzn-Bedrock-Output-Token-Count": "9"}
    fake = FakeBedrock(extra_headers={**INTERNAL, **bedrock_own, "x-amzn-Remapped-Authorization": "internal"})
    server = await aiohttp_server(fake.app())
    headers = {
        "x-portkey-provider": "bedrock",
        "x-portkey-custom-host": str(server.make_url("")).rstrip("/"),
        "x-portkey-aws-access-key-id": ACCESS_KEY,
        "x-portkey-aws-secret-access-key": SECRET_KEY,
        "x-portkey-aws-region": "us-east-1",
    }
    body = {**CHAT, "model": "anthropic.claude-3-5-sonnet-20241022-v2:0"}
    response = await client.post("/v1/chat/completions", json=body, headers=headers)
    assert response.status == 200
    assert response.headers["x-amzn-RequestId"] == "req-1"
    for name, value in bedrock_own.items():
        assert response.headers[name] == value
    assert {"x-internal-token", "x-backend-pod", "x-amzn-remapped-authorization"} & names(response) == set()
    response = await client.post("/v1/chat/completions", json={**body, "model": "unknown-model"}, headers=headers)
    assert response.status == 400
    assert response.headers["x-amzn-ErrorType"].startswith("ValidationException")


def test_the_setting_from_the_command_line_and_the_environment():
    from_env = parse_settings([], {"GATEWAY_PASS_RESPONSE_HEADERS": "x-backend-pod"}).pass_response_headers
    assert from_env.passes("X-Backend-Pod") and not from_env.passes("x-internal-token")
    from_cli = parse_settings(
        ["--pass-response-headers", " X-Cost , x-team-* "], {"GATEWAY_PASS_RESPONSE_HEADERS": "x-backend-pod"}
    ).pass_response_headers
    assert from_cli == HeaderAllowList("x-team-*,x-cost")
    assert from_cli.passes("x-team-route") and from_cli.passes("X-COST") and not from_cli.passes("x-backend-pod")
    assert parse_settings([], {}).pass_response_headers == HeaderAllowList()


@pytest.mark.parametrize(
    "value", ["x cost", "x-cost:1", "content-length", "Transfer-Encoding", "*", "t*", "x-a,proxy-*", "x-a,,x-b", "x-a,", ","]
)
def test_a_bad_setting_stops_the_start(value):
    with pytest.raises(SettingsError) as caught:
        parse_settings(["--pass-response-headers", value], {})
    assert "--pass-response-headers" in str(caught.value)


def test_decisions_are_remembered_but_bounded():
    allowed = HeaderAllowList()
    for number in range(10_000):  # an upstream inventing names cannot grow memory
        assert not allowed.passes(f"x-made-up-{number}")
    assert len(allowed.decided) <= 4096
    assert allowed.passes("X-RateLimit-Remaining-Tokens") and allowed.passes("x-ratelimit-remaining-tokens")
    assert not allowed.passes("Set-Cookie")
