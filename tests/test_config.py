from __future__ import annotations

from dataclasses import dataclass

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import ProviderOption, build_route, normalise_keys, parse_metadata
from gateway.custom_host import HostAllowList
from gateway.errors import GatewayError
from gateway.providers.registry import PROVIDERS


def route(headers: dict):
    return build_route(CIMultiDictProxy(CIMultiDict(headers)), HostAllowList(), providers=PROVIDERS)


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
    spec = route({"x-portkey-config": '{"provider": "bedrock", "api_key": "sk-hidden", "aws_secret_access_key": "s3cr3t"}'})
    assert "sk-hidden" not in repr(spec) and "s3cr3t" not in repr(spec)


def test_metadata_is_parsed_and_is_no_part_of_the_route():
    assert parse_metadata('{"team": "a"}') == {"team": "a"}
    assert parse_metadata(None) == {}
    with_metadata = route({"x-portkey-provider": "openai", "x-portkey-metadata": '{"team": "a"}'})
    assert with_metadata == route({"x-portkey-provider": "openai"})


@pytest.mark.parametrize(
    "config, param",
    [
        ({"provider": "openai", "custom_host": 3}, "config.custom_host"),
        ({"provider": "openai", "request_timeout": 0}, "config.request_timeout"),
        ({"provider": "openai", "request_timeout": True}, "config.request_timeout"),
        ({"provider": "openai", "api_key": 1}, "config.api_key"),
        ({"provider": "azure-openai", "resource_name": ["a"]}, "config.resource_name"),
    ],
)
def test_validation_errors_name_the_field(config, param):
    with pytest.raises(GatewayError) as caught:
        route({"x-portkey-config": orjson.dumps(config).decode()})
    assert caught.value.param == param
    assert caught.value.message.startswith(param + ":")


def test_a_target_reads_its_own_providers_options_only():
    spec = route(
        {
            "x-portkey-config": orjson.dumps({"provider": "openai", "aws_region": "eu-west-1", "openai_project": "p"}).decode(),
            "x-portkey-azure-resource-name": "res",
            "x-portkey-openai-organization": "org",
        }
    )
    assert dict(spec.target.options) == {"openai_project": "p", "openai_organization": "org"}


def test_a_provider_option_on_a_group_is_refused():
    config = {"strategy": {"mode": "fallback"}, "aws_region": "eu-west-1", "targets": [{"provider": "openai"}]}
    with pytest.raises(GatewayError) as caught:
        route({"x-portkey-config": orjson.dumps(config).decode()})
    assert caught.value.param == "config.aws_region"


@dataclass(frozen=True)
class Acme:
    """A provider the config layer has never heard of: its options are its declaration."""

    config_options: tuple[ProviderOption, ...] = (
        ProviderOption("acme_zone", "x-portkey-acme-zone"),
        ProviderOption("acme_model_path", "x-portkey-acme-model-path", path_segment=True),
    )


def acme_route(headers: dict):
    return build_route(CIMultiDictProxy(CIMultiDict(headers)), HostAllowList(), providers={"acme": Acme()})


def test_a_providers_declared_options_come_from_the_config_or_their_headers():
    spec = acme_route({"x-portkey-provider": "acme", "x-portkey-acme-zone": "z1", "x-portkey-acme-model-path": "m"})
    assert dict(spec.target.options) == {"acme_zone": "z1", "acme_model_path": "m"}
    config = orjson.dumps({"provider": "acme", "acmeZone": "z2"}).decode()  # camelCase, as every key
    spec = acme_route({"x-portkey-config": config, "x-portkey-acme-zone": "z1"})
    assert dict(spec.target.options) == {"acme_zone": "z2"}


@pytest.mark.parametrize(
    "headers, param",
    [
        ({"x-portkey-acme-model-path": "../admin"}, "x-portkey-acme-model-path"),
        ({"x-portkey-config": '{"acme_model_path": "a/../.."}'}, "config.acme_model_path"),
        ({"x-portkey-config": '{"acme_zone": 1}'}, "config.acme_zone"),
        ({"x-portkey-config": '{"acme_zone": "z\\r\\nX-Evil: 1"}'}, "config.acme_zone"),
    ],
)
def test_a_providers_declared_options_are_checked(headers, param):
    with pytest.raises(GatewayError) as caught:
        acme_route({"x-portkey-provider": "acme", **headers})
    assert caught.value.param == param


@pytest.mark.parametrize(
    "key, header",
    [("acmeZone", "x-portkey-acme-zone"), ("acme_zone", "x-acme-zone"), ("acme_zone", "X-Portkey-Acme-Zone")],
)
def test_an_option_is_declared_snake_case_with_a_lower_case_x_portkey_header(key, header):
    with pytest.raises(ValueError):
        ProviderOption(key, header)
