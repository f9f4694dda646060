"""What a virtual key stands for in a config target, checked by the config parser itself."""

from __future__ import annotations

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import build_route
from gateway.custom_host import HostAllowList
from gateway.providers.registry import PROVIDERS
from gateway.store import ProviderCredentials, VirtualKey


def route_for(target: dict):
    headers = CIMultiDictProxy(CIMultiDict({"x-portkey-config": orjson.dumps(target).decode()}))
    return build_route(headers, HostAllowList.parse("*"), providers=PROVIDERS)


def test_an_openai_virtual_key_becomes_provider_and_key():
    vk = VirtualKey(id="1", slug="o", name="o", provider="openai", credentials=ProviderCredentials(api_key="sk-stored"),
                    custom_host="http://127.0.0.1:9/v1")
    target = route_for(vk.target_fields()).target
    assert (target.provider, target.api_key, target.custom_host) == ("openai", "sk-stored", "http://127.0.0.1:9/v1")


def test_an_azure_virtual_key_picks_its_default_deployment():
    vk = VirtualKey(id="1", slug="a", name="a", provider="azure-openai", credentials=ProviderCredentials(api_key="az-key"),
                    model_config={"resourceName": "res", "deploymentConfig": [
                        {"deploymentName": "other", "apiVersion": "2024-01-01"},
                        {"deploymentName": "main", "apiVersion": "2024-08-01-preview", "is_default": True}]})
    target = route_for(vk.target_fields()).target
    assert target.api_key == "az-key"
    assert dict(target.options) == {"resource_name": "res", "deployment_id": "main", "api_version": "2024-08-01-preview"}


def test_a_bedrock_virtual_key_carries_the_stored_aws_credentials():
    vk = VirtualKey(id="1", slug="b", name="b", provider="bedrock",
                    credentials=ProviderCredentials(aws_secret_access_key="secret", aws_session_token="token"),
                    model_config={"awsAccessKeyId": "AKIA1", "awsRegion": "eu-west-1"})
    target = route_for(vk.target_fields()).target
    assert dict(target.options) == {
        "aws_access_key_id": "AKIA1", "aws_secret_access_key": "secret", "aws_session_token": "token", "aws_region": "eu-west-1",
    }
