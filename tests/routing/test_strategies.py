"""Loadbalance, conditional, single and nested trees, end to end."""

from __future__ import annotations

import json
from collections import Counter
from random import Random

import openai
import pytest

from gateway.config import Leaf
from gateway.routing.strategies import pick_weighted
from tests.conftest import TEST_KEY
from tests.fakes.openai import Fail
from tests.routing.conftest import chat, leaf
from tests.routing.test_fallback import fallback


def group(mode: str, *targets, **fields) -> dict:
    return {"strategy": {"mode": mode, **fields.pop("strategy", {})}, "targets": list(targets), **fields}


def test_weighted_choice_matches_the_weights():
    nodes = [Leaf(f"config.targets[{i}]", None, weight=w) for i, w in enumerate((3, 1, 0, 0.5))]
    draws = Random(20261127).random
    counts = Counter(pick_weighted(nodes, draws).path for _ in range(45_000))
    assert counts["config.targets[2]"] == 0
    # Expected 30000 / 10000 / 5000; a fixed seed keeps the test exact, the bounds meaningful.
    assert abs(counts["config.targets[0]"] - 30_000) < 450
    assert abs(counts["config.targets[1]"] - 10_000) < 300
    assert abs(counts["config.targets[3]"] - 5_000) < 220


def test_weighted_choice_edges():
    nodes = [Leaf("a", None, weight=0), Leaf("b", None, weight=2), Leaf("c", None, weight=0)]
    assert {pick_weighted(nodes, lambda x=x: x).path for x in (0.0, 0.5, 0.9999999)} == {"b"}
    nodes = [Leaf("a", None, weight=1), Leaf("b", None, weight=1)]
    assert pick_weighted(nodes, lambda: 0.4999).path == "a" and pick_weighted(nodes, lambda: 0.5).path == "b"


async def test_loadbalance_splits_requests_by_weight(make_fake, client, seed):
    fakes = [await make_fake() for _ in range(3)]
    config = group("loadbalance", leaf(fakes[0], weight=3), leaf(fakes[1], weight=1), leaf(fakes[2], weight=0))
    headers = {"x-portkey-config": json.dumps(config), "Authorization": "Bearer " + TEST_KEY}
    used = Counter()
    for _ in range(200):
        response = await client.post("/v1/embeddings", json={"model": "m", "input": "x"}, headers=headers)
        assert response.status == 200
        used[response.headers["x-portkey-last-used-option-index"]] += 1
    # The same seed replayed through the same choice gives the exact split.
    draws = Random(seed).random
    nodes = [Leaf(f"config.targets[{i}]", None, weight=w) for i, w in enumerate((3, 1, 0))]
    assert used == Counter(pick_weighted(nodes, draws).path for _ in range(200))
    assert [len(f.requests) for f in fakes] == [used["config.targets[0]"], used["config.targets[1]"], 0]
    assert 130 <= used["config.targets[0]"] <= 170


@pytest.mark.parametrize("stream", [False, True])
async def test_loadbalance_through_the_sdk(make_fake, sdk_for, stream):
    never, always = await make_fake(), await make_fake()
    config = group("loadbalance", leaf(never, weight=0), leaf(always, weight=2))
    for _ in range(3):
        headers, text = await chat(sdk_for(config), stream=stream)
        assert text == "You said: Hello there"
        assert headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert never.requests == [] and len(always.requests) == 3


@pytest.mark.parametrize("stream", [False, True])
async def test_single_uses_the_first_target(make_fake, sdk_for, stream):
    first, second = await make_fake(), await make_fake()
    headers, text = await chat(sdk_for(group("single", leaf(first), leaf(second))), stream=stream)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[0]"
    assert second.requests == []


@pytest.fixture
async def routed(make_fake):
    """Three upstreams and a conditional config choosing among them."""
    pro, fast, basic = await make_fake(), await make_fake(), await make_fake()
    config = group(
        "conditional",
        leaf(pro, name="pro"),
        leaf(fast, name="fast"),
        leaf(basic, name="basic"),
        strategy={
            "conditions": [
                {"query": {"$or": [{"metadata.plan": "pro"}, {"metadata.seats": {"$gte": 50}}]}, "then": "pro"},
                {"query": {"params.model": {"$regex": "^gpt-4o"}, "params.stream": True}, "then": "fast"},
                {"query": {"url.pathname": "/v1/embeddings"}, "then": "fast"},
            ],
            "default": "basic",
        },
    )
    return config, pro, fast, basic


@pytest.mark.parametrize(
    "metadata, stream, chosen",
    [
        ({"plan": "pro"}, False, "config.targets[0]"),
        ({"plan": "free", "seats": 80}, True, "config.targets[0]"),
        ({"plan": "free"}, True, "config.targets[1]"),
        ({"plan": "free"}, False, "config.targets[2]"),
        (None, False, "config.targets[2]"),
    ],
)
async def test_conditional_routes_by_metadata_and_params(routed, sdk_for, metadata, stream, chosen):
    config = routed[0]
    headers = {"x-portkey-metadata": json.dumps(metadata)} if metadata is not None else {}
    answer_headers, text = await chat(sdk_for(config, **headers), stream=stream)
    assert text == "You said: Hello there"
    assert answer_headers["x-portkey-last-used-option-index"] == chosen


async def test_conditional_routes_by_url_pathname(routed, sdk_for):
    config, pro, fast, basic = routed
    raw = await sdk_for(config).embeddings.with_raw_response.create(model="text-embedding-3-small", input="hi")
    assert raw.headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    assert fast.last.path == "/v1/embeddings"


async def test_conditional_without_a_match_or_default_is_a_400(make_fake, sdk_for):
    fake = await make_fake()
    config = group("conditional", leaf(fake, name="only"), strategy={"conditions": [{"query": {"metadata.x": 1}, "then": "only"}]})
    with pytest.raises(openai.BadRequestError) as caught:
        await chat(sdk_for(config))
    assert caught.value.body["code"] == "no_matching_condition"
    assert caught.value.body["message"].startswith("config.strategy: no condition matched")
    assert fake.requests == []


@pytest.mark.parametrize("stream", [False, True])
async def test_fallback_of_loadbalances(make_fake, sdk_for, stream):
    broken = [await make_fake() for _ in range(2)]
    for fake in broken:
        fake.script = [Fail(503)]
    healthy = [await make_fake() for _ in range(2)]
    config = fallback(
        group("loadbalance", leaf(broken[0]), leaf(broken[1])),
        group("loadbalance", leaf(healthy[0], weight=0), leaf(healthy[1])),
    )
    headers, text = await chat(sdk_for(config), stream=stream)
    assert text == "You said: Hello there"
    assert headers["x-portkey-last-used-option-index"] == "config.targets[1].targets[1]"
    assert sum(len(f.requests) for f in broken) == 1


@pytest.mark.parametrize("stream", [False, True])
async def test_conditional_into_fallback(make_fake, sdk_for, stream):
    broken, healthy, other = await make_fake(), await make_fake(), await make_fake()
    broken.script = [Fail(502)]
    config = group(
        "conditional",
        {**fallback(leaf(broken), leaf(healthy)), "name": "main"},
        leaf(other, name="other"),
        strategy={"conditions": [{"query": {"params.model": "gpt-4o-mini"}, "then": "main"}], "default": "other"},
    )
    headers, _ = await chat(sdk_for(config), stream=stream)
    assert headers["x-portkey-last-used-option-index"] == "config.targets[0].targets[1]"
    assert other.requests == []
