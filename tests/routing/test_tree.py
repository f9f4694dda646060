"""The parsed tree: what it tells the handler, and what each target ends up with."""

from __future__ import annotations

import json

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from gateway.config import MAX_RETRY_ATTEMPTS, build_route
from gateway.custom_host import HostAllowList
from gateway.providers.registry import PROVIDERS

A = {"provider": "openai", "api_key": "sk-a"}
B = {"provider": "groq", "api_key": "gsk-b"}


def route(config: dict | None = None, api_key: str | None = None, **headers: str):
    values = CIMultiDict(headers)
    if config is not None:
        values["x-portkey-config"] = json.dumps(config)
    return build_route(CIMultiDictProxy(values), HostAllowList(), providers=PROVIDERS, api_key=api_key)


def group(mode: str, *targets, **strategy) -> dict:
    return {"strategy": {"mode": mode, **strategy}, "targets": list(targets)}


@pytest.mark.parametrize(
    "config, headers, calls",
    [
        (A, {}, 1),
        (A, {"x-portkey-retry-count": "2"}, 3),
        ({**A, "retry": {"attempts": 99}}, {}, MAX_RETRY_ATTEMPTS + 1),
        (group("fallback", A, B), {}, 2),
        (group("loadbalance", A, B), {}, 1),  # one target is chosen: the body can stream
        (group("single", {**A, "retry": {"attempts": 1}}, B), {}, 2),
        (group("fallback", group("loadbalance", {**A, "retry": {"attempts": 2}}, B), B), {}, 4),
    ],
)
def test_max_calls_decides_whether_the_body_is_replayed(config, headers, calls):
    assert route(config, **headers).max_calls == calls


def test_reads_params_only_when_a_condition_reads_the_body():
    by_metadata = group("conditional", {**A, "name": "a"}, conditions=[{"query": {"metadata.x": 1}, "then": "a"}])
    by_params = group("conditional", {**A, "name": "a"}, conditions=[{"query": {"params.model": "m"}, "then": "a"}])
    assert not route(by_metadata).reads_params
    assert route(by_params).reads_params
    assert route(group("fallback", A, by_params)).reads_params


def test_paths_name_every_target():
    tree = route(group("fallback", A, group("loadbalance", B, A)))
    assert [leaf.path for leaf in tree.leaves] == ["config.targets[0]", "config.targets[1].targets[0]", "config.targets[1].targets[1]"]
    assert route(A).leaves[0].path == "config"


def test_the_clients_key_is_given_only_where_it_was_meant():
    no_keys = group("fallback", {"provider": "openai"}, {"provider": "groq"})
    leaves = route(no_keys, api_key="sk-client", **{"x-portkey-provider": "openai"}).leaves
    assert [leaf.target.api_key for leaf in leaves] == ["sk-client", None]
    assert [leaf.target.api_key for leaf in route(no_keys, api_key="sk-client").leaves] == [None, None]
    same_provider = group("fallback", {"provider": "openai"}, group("single", {"provider": "OpenAI", "api_key": "sk-own"}))
    assert [leaf.target.api_key for leaf in route(same_provider, api_key="sk-client").leaves] == ["sk-client", "sk-own"]
    assert route({"provider": "groq"}, api_key="gsk-client").target.api_key == "gsk-client"
    assert route(None, api_key="sk-h", **{"x-portkey-provider": "openai"}).target.api_key == "sk-h"


def test_secrets_stay_out_of_repr():
    text = repr(route({"provider": "bedrock", "api_key": "sk-a", "aws_secret_access_key": "AWSSECRET"}))
    assert "sk-a" not in text and "AWSSECRET" not in text
