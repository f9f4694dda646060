"""The whole config is checked before any upstream call; each bad field is named."""

from __future__ import annotations

import json

import pytest

from tests.conftest import TEST_KEY

MODES = "single, fallback, loadbalance, conditional"
OK = {"provider": "openai"}


def fb(*targets, **strategy):
    return {"strategy": {"mode": "fallback", **strategy}, "targets": list(targets)}


CASES = [
    # (config, message, param)
    ({"strategy": {"mode": "roundrobin"}, "targets": [OK]}, f"config.strategy.mode: must be one of {MODES}", "config.strategy.mode"),
    (
        fb(OK, {"strategy": {"mode": "nope"}, "targets": [OK]}),
        f"config.targets[1].strategy.mode: must be one of {MODES}",
        "config.targets[1].strategy.mode",
    ),
    ({"strategy": {"mode": "fallback"}}, "config.targets: must be a non-empty list of targets", "config.targets"),
    ({"strategy": {"mode": "fallback"}, "targets": []}, "config.targets: must be a non-empty list of targets", "config.targets"),
    ({"targets": [OK]}, 'config.strategy: required with targets, an object like {"mode": "fallback"}', "config.strategy"),
    (fb(OK, "openai"), "config.targets[1]: must be an object", "config.targets[1]"),
    (fb(OK, {"provider": "openia"}), "config.targets[1].provider: unknown provider 'openia' (known providers: ", "config.targets[1].provider"),
    (fb(OK, {"provider": ""}), "config.targets[1].provider: must be a non-empty string", "config.targets[1].provider"),
    (fb(OK, {"api_key": 5, "provider": "openai"}), "config.targets[1].api_key: must be a string", "config.targets[1].api_key"),
    ({**fb(OK), "provider": "openai"}, "config.provider: belongs on a target (a node with a provider), not on a group", "config.provider"),
    (fb(OK, {**OK, "weight": -1}), "config.targets[1].weight: must be a number from 0", "config.targets[1].weight"),
    (fb(OK, {**OK, "weight": True}), "config.targets[1].weight: must be a number from 0", "config.targets[1].weight"),
    (
        {"strategy": {"mode": "loadbalance"}, "targets": [{**OK, "weight": 0}]},
        "config.targets: loadbalance needs at least one target with a weight above 0",
        "config.targets",
    ),
    (fb(OK, on_status_codes=[429, 99]), "config.strategy.on_status_codes[1]: must be an HTTP status code (100-599)", "config.strategy.on_status_codes[1]"),
    (
        {"strategy": {"mode": "loadbalance", "on_status_codes": [429]}, "targets": [OK]},
        "config.strategy.on_status_codes: only applies to mode fallback (retry has its own)",
        "config.strategy.on_status_codes",
    ),
    ({**fb(OK), "retry": {"attempts": -1}}, "config.retry.attempts: must be a whole number from 0 (capped at 5)", "config.retry.attempts"),
    ({**fb(OK), "retry": 3}, 'config.retry: must be an object like {"attempts": 3}', "config.retry"),
    (fb({**OK, "retry": {"on_status_codes": "429"}}), "config.targets[0].retry.on_status_codes: must be a non-empty list of HTTP status codes", "config.targets[0].retry.on_status_codes"),
    (fb({**OK, "retry": {"use_retry_after_header": "yes"}}), "config.targets[0].retry.use_retry_after_header: must be true or false", "config.targets[0].retry.use_retry_after_header"),
    (fb({**OK, "request_timeout": 0}), "config.targets[0].request_timeout: must be a positive number of milliseconds", "config.targets[0].request_timeout"),
    ({**fb(OK), "idle_timeout": "5s"}, "config.idle_timeout: must be a positive number of milliseconds", "config.idle_timeout"),
    (fb({**OK, "override_params": []}), "config.targets[0].override_params: must be an object", "config.targets[0].override_params"),
    (fb({**OK, "forward_headers": "x-a"}), "config.targets[0].forward_headers: must be a list of header names", "config.targets[0].forward_headers"),
    (fb({**OK, "custom_host": "ftp://x"}), "config.targets[0].custom_host: must be an http:// or https:// URL with a host", "config.targets[0].custom_host"),
    (
        fb({"virtual_key": "openai-prod-1a2b"}),
        "config.targets[0].virtual_key: virtual keys need the gateway's store (--store, --admin-key-file); give provider and api_key instead",
        "config.targets[0].virtual_key",
    ),
    (fb({**OK, "cache": True}), "config.targets[0].cache: must be an object", "config.targets[0].cache"),
    (fb({**OK, "name": 3}), "config.targets[0].name: must be a non-empty string", "config.targets[0].name"),
    (
        {"strategy": {"mode": "conditional", "default": "a"}, "targets": [{**OK, "name": "a"}]},
        'config.strategy.conditions: required for mode conditional: a list of {"query": {...}, "then": "<target name>"}',
        "config.strategy.conditions",
    ),
    (
        {"strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.a": 1}, "then": "b"}]}, "targets": [{**OK, "name": "a"}]},
        "config.strategy.conditions[0].then: must name one of the targets; names: 'a'",
        "config.strategy.conditions[0].then",
    ),
    (
        {"strategy": {"mode": "conditional", "conditions": [{"query": {"body.a": 1}, "then": "a"}]}, "targets": [{**OK, "name": "a"}]},
        "config.strategy.conditions[0].query.body.a: unknown field; conditions read metadata.<key>, params.<key> or url.pathname",
        "config.strategy.conditions[0].query.body.a",
    ),
    (
        {"strategy": {"mode": "conditional", "conditions": [{"query": {"params.n": {"$between": [1, 2]}}, "then": "a"}]}, "targets": [{**OK, "name": "a"}]},
        "config.strategy.conditions[0].query.params.n.$between: unknown operator; use one of $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin, $regex",
        "config.strategy.conditions[0].query.params.n.$between",
    ),
    (
        {"strategy": {"mode": "conditional", "conditions": [{"query": {"metadata.u": {"$regex": "(a)\\1"}}, "then": "a"}]}, "targets": [{**OK, "name": "a"}]},
        "config.strategy.conditions[0].query.metadata.u.$regex: not a regular expression the gateway runs "
        "(invalid escape sequence: \\1); patterns use RE2 syntax, without backreferences or lookaround",
        "config.strategy.conditions[0].query.metadata.u.$regex",
    ),
    (
        {"strategy": {"mode": "conditional", "conditions": [{"query": {"url.pathname": {"$regex": "(?=x)"}}, "then": "a"}]}, "targets": [{**OK, "name": "a"}]},
        "config.strategy.conditions[0].query.url.pathname.$regex: not a regular expression the gateway runs",
        "config.strategy.conditions[0].query.url.pathname.$regex",
    ),
    (
        {"strategy": {"mode": "conditional", "default": "a"}, "targets": [{**OK, "name": "a"}, {**OK, "name": "a"}], "conditions": []},
        "config.targets[1].name: duplicate name 'a': conditions pick targets by name",
        "config.targets[1].name",
    ),
    (
        {"strategy": {"mode": "fallback", "default": "a"}, "targets": [OK]},
        "config.strategy.default: only applies to mode conditional",
        "config.strategy.default",
    ),
    (fb(fb(fb(fb(fb(fb(fb(fb(fb(fb(fb(OK))))))))))), "targets nest deeper than 10 levels", "config" + ".targets[0]" * 10 + ".targets"),
]


@pytest.fixture
async def post(client, fake_openai):
    async def send(config: dict, **headers: str):
        headers = {"Authorization": "Bearer " + TEST_KEY, "x-portkey-config": json.dumps(config), **headers}
        response = await client.post("/v1/chat/completions", json={"model": "m", "messages": []}, headers=headers)
        return response.status, await response.json()

    yield send
    assert fake_openai.requests == []  # nothing reached an upstream


@pytest.mark.parametrize("config, message, param", CASES)
async def test_bad_config_is_a_400_naming_the_path(post, config, message, param):
    status, body = await post(config)
    assert status == 400
    assert message in body["error"]["message"]
    assert body["error"]["param"] == param
    assert body["error"]["type"] == "invalid_request_error"


async def test_every_bad_field_is_named_at_once(post):
    config = fb({"provider": "nope"}, {"strategy": {"mode": "x"}, "targets": [OK]}, {**OK, "request_timeout": -5})
    status, body = await post(config)
    assert status == 400 and body["error"]["code"] == "invalid_config"
    assert body["error"]["message"].split("; ")[1:] == [
        f"config.targets[1].strategy.mode: must be one of {MODES}",
        "config.targets[2].request_timeout: must be a positive number of milliseconds",
    ]
    assert body["error"]["message"].startswith("config.targets[0].provider: unknown provider 'nope'")


async def test_a_disallowed_custom_host_keeps_its_403(post):
    status, body = await post(fb({**OK, "custom_host": "http://169.254.169.254/v1"}))
    assert status == 403 and body["error"]["code"] == "custom_host_not_allowed"
    assert body["error"]["param"] == "config.targets[0].custom_host"


@pytest.mark.parametrize(
    "headers, param",
    [
        ({"x-portkey-retry-count": "many"}, "x-portkey-retry-count"),
        ({"x-portkey-request-timeout": "0"}, "x-portkey-request-timeout"),
    ],
)
async def test_bad_routing_headers(post, headers, param):
    status, body = await post(OK, **headers)
    assert status == 400 and body["error"]["param"] == param


async def test_a_target_without_any_provider(post):
    status, body = await post(fb({"api_key": "k"}))
    assert status == 400
    assert body["error"]["message"] == "config.targets[0].provider: required: name a provider here or send x-portkey-provider"


async def test_header_mode_without_provider_keeps_its_code(client):
    response = await client.post("/v1/chat/completions", json={}, headers={"Authorization": "Bearer k"})
    body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "missing_provider"


async def test_unknown_header_provider(client):
    response = await client.post("/v1/chat/completions", json={}, headers={"x-portkey-provider": "nope"})
    body = await response.json()
    assert response.status == 400 and body["error"]["code"] == "unknown_provider"
    assert body["error"]["param"] == "x-portkey-provider"


def _regex_conditions(count: int) -> dict:
    conditions = [{"query": {f"metadata.k{i}": {"$regex": f"^v{i}$"}}, "then": "a"} for i in range(count)]
    return {"strategy": {"mode": "conditional", "conditions": conditions, "default": "a"}, "targets": [{**OK, "name": "a"}]}


async def test_a_config_holds_at_most_16_regexes(post):
    status, body = await post(_regex_conditions(17))
    assert status == 400
    assert body["error"]["param"] == "config.strategy.conditions[16].query"
    assert body["error"]["message"] == "config.strategy.conditions[16].query: too many $regex tests: a config holds at most 16"


async def test_sixteen_regexes_are_fine(client, fake_openai):
    config = _regex_conditions(16)
    config["targets"][0].update(api_key=TEST_KEY, custom_host=fake_openai.url)
    response = await client.post(
        "/v1/chat/completions",
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
        headers={"x-portkey-config": json.dumps(config)},
    )
    assert response.status == 200
