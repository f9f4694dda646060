"""Paths that would leave the provider's base URL are refused before any upstream call."""

from __future__ import annotations

import pytest

from gateway.errors import BadRequest
from gateway.request_path import split_target
from tests.conftest import TEST_KEY
from tests.raw_http import raw_request

ESCAPES = [
    b"/v1/../../admin",
    b"/v1/chat/../../admin",
    b"/v1/%2e%2e/%2e%2e/admin",
    b"/v1/%2E%2E/%2e%2E/admin",
    b"/v1/..%2f..%2fadmin",
    b"/v1/..%2F..%2Fadmin",
    b"/v1/x%2f%2e%2e%2f%2e%2e",
    b"/v1/%252e%252e/admin",  # an upstream that decodes twice sees ..
    b"/v1/./chat/completions",
    b"/v1/chat/completions/..",
    b"/v1/..;/admin",
    b"/v1/a\\..\\admin",
    b"/v1/a%5c..%5cadmin",
    b"/v1/a%5C..%5Cadmin",
    b"/v1/x%00y",
    b"/v1/x%0ay",  # a newline once decoded: the route's pattern must still match it
    b"/v1/x%0d%0ay",
    b"/v1/chat/completions#frag",
    b"/v1/models?limit=1#frag",  # a fragment after the query is still one
    b"/v1/%252525252e%252525252e/admin",  # five encodings deep: refused, never decoded further
]


@pytest.mark.parametrize("target", ESCAPES)
def test_escaping_paths_are_refused(target):
    with pytest.raises(BadRequest) as caught:
        split_target(target.decode())
    assert caught.value.code == "invalid_path" and caught.value.status == 400


@pytest.mark.parametrize(
    "target, endpoint, query",
    [
        ("/v1/chat/completions", "chat/completions", ""),
        ("/v1/models/gpt-4.1?x=../..", "models/gpt-4.1", "x=../.."),
        ("/v1/models/accounts%2Ffireworks%2Fmodels%2Fllama", "models/accounts%2Ffireworks%2Fmodels%2Fllama", ""),
        ("/v1/files/.well-known..x/a..b", "files/.well-known..x/a..b", ""),
        ("/v1/100%25", "100%25", ""),
        ("/v1/files/a%25252541", "files/a%25252541", ""),  # four encodings deep, no dot
    ],
)
def test_ordinary_paths_keep_their_encoding(target, endpoint, query):
    assert split_target(target) == (endpoint, query)


@pytest.fixture
def route_headers(fake_openai) -> dict[str, bytes]:
    return {
        "Authorization": f"Bearer {TEST_KEY}".encode(),
        "x-portkey-provider": b"openai",
        "x-portkey-custom-host": fake_openai.url.encode(),
    }


@pytest.mark.parametrize("target", ESCAPES)
async def test_escaping_paths_never_reach_the_upstream(gateway, fake_openai, route_headers, target):
    answer = await raw_request(gateway, b"POST", target, route_headers, b"{}")
    assert answer.status == 400
    error = answer.json()["error"]
    assert error["code"] == "invalid_path" and error["message"].startswith("invalid request path: ")
    assert b"admin" not in answer.body  # the path is not echoed
    assert fake_openai.requests == []


async def test_an_absolute_form_target_is_refused(gateway, fake_openai, route_headers):
    target = f"http://{gateway.host}:{gateway.port}/v1/chat/completions".encode()
    answer = await raw_request(gateway, b"POST", target, route_headers, b"{}")
    assert answer.status == 400
    assert answer.json()["error"]["message"] == (
        "invalid request path: the request target must be a path under /v1/ (not an absolute URL, not percent-encoded)"
    )
    assert fake_openai.requests == []


async def test_an_encoded_prefix_is_refused(gateway, fake_openai, route_headers):
    answer = await raw_request(gateway, b"POST", b"/%76%31/chat/completions", route_headers, b"{}")
    assert answer.status == 400 and answer.json()["error"]["code"] == "invalid_path"
    assert fake_openai.requests == []


async def test_an_encoded_slash_reaches_the_upstream_as_sent(gateway, fake_openai, route_headers):
    target = b"/v1/models/accounts%2Ffireworks%2Fmodels%2Fllama?limit=1"
    answer = await raw_request(gateway, b"GET", target, route_headers)
    assert answer.status == 200
    assert fake_openai.last.raw_path == target.decode()


@pytest.mark.parametrize(
    "headers, param",
    [
        ({"x-portkey-azure-deployment-id": ".."}, "x-portkey-azure-deployment-id"),
        ({"x-portkey-azure-deployment-id": "..%2f..%2fadmin"}, "x-portkey-azure-deployment-id"),
        ({"x-portkey-config": '{"deployment_id": "%2e%2e"}'}, "config.deployment_id"),
        ({"x-portkey-config": '{"deployment_id": "a\\\\..\\\\b"}'}, "config.deployment_id"),
    ],
)
async def test_an_azure_deployment_cannot_climb_out_of_the_base_path(client, fake_openai, headers, param):
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": "azure-openai",
                 "x-portkey-custom-host": fake_openai.url, **headers},
    )
    assert response.status == 400
    assert (await response.json())["error"]["param"] == param
    assert fake_openai.requests == []


@pytest.mark.parametrize("provider", ["google", "bedrock"])
@pytest.mark.parametrize("model", ["../../admin", "x/../../admin", "..%2f..%2fadmin", "%2e%2e", "a\\..\\b"])
async def test_a_model_in_the_url_path_cannot_climb_out_of_the_base_path(client, fake_openai, provider, model):
    """Google and Bedrock put the model in the URL path (as one encoded segment): a
    model of dot segments would leave the base path at an upstream that decodes %2F,
    the same escape as /v1/..%2f..%2fadmin."""
    response = await client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": provider,
                 "x-portkey-aws-access-key-id": "AKIAEXAMPLE", "x-portkey-aws-secret-access-key": "secret",
                 "x-portkey-custom-host": fake_openai.url},
    )
    assert response.status == 400
    error = (await response.json())["error"]
    assert (error["param"], error["code"]) == ("model", "invalid_model")
    assert fake_openai.requests == []


@pytest.mark.parametrize("provider, model", [
    ("bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-5-sonnet-20240620-v1:0"),
    ("google", "tunedModels/my-model-1"),
])
async def test_model_ids_with_slashes_still_reach_the_upstream(client, fake_openai, provider, model):
    await client.post(
        "/v1/chat/completions",
        json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": f"Bearer {TEST_KEY}", "x-portkey-provider": provider,
                 "x-portkey-aws-access-key-id": "AKIAEXAMPLE", "x-portkey-aws-secret-access-key": "secret",
                 "x-portkey-custom-host": fake_openai.url},
    )
    assert len(fake_openai.requests) == 1  # sent (the fake's answer is not Gemini's or Bedrock's)
