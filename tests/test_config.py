from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import build_route, normalise_keys
from gateway.custom_host import HostAllowList
from gateway.errors import GatewayError


def route(headers: dict):
    return build_route(CIMultiDictProxy(CIMultiDict(headers)), HostAllowList())


def test_camel_case_keys_become_snake_case_but_override_params_stay_verbatim():
    config = {"apiKey": "k", "overrideParams": {"maxTokens": 5}, "forwardHeaders": ["x"], "strictOpenAiCompliance": False}
    assert normalise_keys(config) == {
        "api_key": "k",
        "override_params": {"maxTokens": 5},
        "forward_headers": ["x"],
        "strict_open_ai_compliance": False,
    }


def test_header_mode_is_a_one_leaf_config():
    spec = route({"x-portkey-provider": "OpenAI ", "x-portkey-request-timeout": "1500"})
    assert spec.target.provider == "openai"
    assert spec.target.request_timeout_ms == 1500


def test_provider_options_from_headers_and_config_wins():
    spec = route(
        {
            "x-portkey-config": orjson.dumps({"provider": "bedrock", "aws_region": "eu-west-1"}).decode(),
            "x-portkey-aws-region": "us-east-2",
            "x-portkey-aws-access-key-id": "AKIDEXAMPLE",
        }
    )
    assert spec.target.options["aws_region"] == "eu-west-1"
    assert spec.target.options["aws_access_key_id"] == "AKIDEXAMPLE"


def test_secrets_stay_out_of_repr():
    spec = route({"x-portkey-config": '{"provider": "openai", "api_key": "sk-hidden", "aws_secret_access_key": "s3cr3t"}'})
    assert "sk-hidden" not in repr(spec) and "s3cr3t" not in repr(spec)


def test_metadata_is_parsed():
    assert route({"x-portkey-provider": "openai", "x-portkey-metadata": '{"team": "a"}'}).metadata == {"team": "a"}


@pytest.mark.parametrize(
    "config, param",
    [
        ({"provider": "openai", "custom_host": 3}, "config.custom_host"),
        ({"provider": "openai", "request_timeout": 0}, "config.request_timeout"),
        ({"provider": "openai", "request_timeout": True}, "config.request_timeout"),
        ({"provider": "openai", "api_key": 1}, "config.api_key"),
        ({"provider": "openai", "resource_name": ["a"]}, "config.resource_name"),
    ],
)
def test_validation_errors_name_the_field(config, param):
    with pytest.raises(GatewayError) as caught:
        route({"x-portkey-config": orjson.dumps(config).decode()})
    assert caught.value.param == param
    assert caught.value.message.startswith(param + ":")
