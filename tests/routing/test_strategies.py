"""Loadbalance, conditional, single and nested trees, end to end."""

from __future__ import annotations

import json
from collections import Counter
from math import exp, lgamma, log, log1p
from random import Random

import openai
import pytest

from gateway.app import create_app
from gateway.config import Leaf
from gateway.routing import ROUTING_TOOLS, RoutingTools
from gateway.routing.strategies import pick_weighted
from tests.conftest import TEST_KEY
from tests.fakes.openai import Fail
from tests.routing.conftest import chat, leaf
from tests.routing.test_fallback import fallback


def group(mode: str, *targets, **fields) -> dict:
    return {"strategy": {"mode": mode, **fields.pop("strategy", {})}, "targets": list(targets), **fields}


# The chance that a correct loadbalancer fails one of these tests, whatever the seed.
FALSE_FAILURE = 1e-9


def binomial_interval(n: int, p: float, alpha: float) -> tuple[int, int]:
    """[lo, hi] holding a Binomial(n, p) count but with probability at most ``alpha``
    (exact tails, summed from each end until the next term would pass alpha / 2)."""

    def pmf(k: int) -> float:
        return exp(lgamma(n + 1) - lgamma(k + 1) - lgamma(n - k + 1) + k * log(p) + (n - k) * log1p(-p))

    bounds = []
    for ks in (range(n + 1), range(n, -1, -1)):
        tail = 0.0
        for k in ks:
            if tail + pmf(k) > alpha / 2:
                bounds.append(k)
                break
            tail += pmf(k)
    return bounds[0], bounds[1]


def test_binomial_interval_is_right():
    # Binomial(10, 0.5): P(X <= 1) = P(X >= 9) = 11/1024; P(X = 0) = P(X = 10) = 1/1024.
    assert binomial_interval(10, 0.5, 2 * 11.5 / 1024) == (2, 8)
    assert binomial_interval(10, 0.5, 2 * 10.5 / 1024) == (1, 9)
    assert binomial_interval(10, 0.5, 1e-9) == (0, 10)


def check_split(counts: Counter, weights: dict[str, float], draws: int) -> None:
    """Each target's share of ``draws`` matches weight / total within exact binomial
    bounds; together the targets fail by chance with probability < FALSE_FAILURE."""
    total = sum(weights.values())
    drawn = [name for name, weight in weights.items() if weight > 0]
    for name, weight in weights.items():
        if weight == 0:
            assert counts[name] == 0, f"{name} has weight 0 but was chosen {counts[name]} times"
            continue
        lo, hi = binomial_interval(draws, weight / total, FALSE_FAILURE / len(drawn))
        assert lo <= counts[name] <= hi, f"{name}: chosen {counts[name]} of {draws} times, expected {lo}..{hi}"


def test_weighted_choice_matches_the_weights():
    weights = {"config.targets[0]": 3, "config.targets[1]": 1, "config.targets[2]": 0, "config.targets[3]": 0.5}
    nodes = [Leaf(path, None, weight=weight) for path, weight in weights.items()]
    draws = Random(20261127).random
    counts = Counter(pick_weighted(nodes, draws).path for _ in range(60_000))
    # e.g. targets[0]: 40 000 expected, 39 272..40 723 allowed; a weight read as 2.8
    # instead of 3 (39 070 expected) is caught.
    check_split(counts, weights, 60_000)


def test_weighted_choice_edges():
    nodes = [Leaf("a", None, weight=0), Leaf("b", None, weight=2), Leaf("c", None, weight=0)]
    assert {pick_weighted(nodes, lambda x=x: x).path for x in (0.0, 0.5, 0.9999999)} == {"b"}
    nodes = [Leaf("a", None, weight=1), Leaf("b", None, weight=1)]
    assert pick_weighted(nodes, lambda: 0.4999).path == "a" and pick_weighted(nodes, lambda: 0.5).path == "b"
    # Float rounding at the very top of the range (the weights' sum minus each leaves
    # exactly 0.0) still never picks a weight of 0.
    nodes = [Leaf(path, None, weight=weight) for path, weight in (("a", 0.1), ("b", 0.05), ("c", 0.3), ("z", 0))]
    assert pick_weighted(nodes, lambda: 1 - 2**-53).path == "c"


async def test_loadbalance_splits_requests_by_weight(make_fake, client):
    fakes = [await make_fake() for _ in range(3)]
    config = group("loadbalance", leaf(fakes[0], weight=3), leaf(fakes[1], weight=1), leaf(fakes[2], weight=0))
    headers = {"x-portkey-config": json.dumps(config), "Authorization": "Bearer " + TEST_KEY}
    used = Counter()
    for _ in range(600):
        response = await client.post("/v1/embeddings", json={"model": "m", "input": "x"}, headers=headers)
        assert response.status == 200
        used[response.headers["x-portkey-last-used-option-index"]] += 1
    # Checked against the configured weights (3/4, 1/4, never), not against a replay of
    # the code under test: 381..512 of 600 for the first; equal weights (300) or swapped
    # weights (150) fail.
    check_split(used, {"config.targets[0]": 3, "config.targets[1]": 1, "config.targets[2]": 0}, 600)
    assert [len(f.requests) for f in fakes] == [used["config.targets[0]"], used["config.targets[1]"], 0]


async def test_loadbalance_shares_are_the_weights_under_evenly_spread_draws(make_fake, aiohttp_client, settings):
    """Draws spread evenly over [0, 1) give each target exactly its weight's share: a
    weight that is skewed anywhere between the config and the choice moves a count."""
    draws = iter([(k + 0.5) / 120 for k in range(120)])
    app = create_app(settings)
    app[ROUTING_TOOLS] = RoutingTools(random=lambda: next(draws))
    client = await aiohttp_client(app)
    fakes = [await make_fake() for _ in range(4)]
    config = group(
        "loadbalance", leaf(fakes[0], weight=3), leaf(fakes[1], weight=0.5), leaf(fakes[2], weight=0), leaf(fakes[3], weight=1.5)
    )
    headers = {"x-portkey-config": json.dumps(config), "Authorization": "Bearer " + TEST_KEY}
    for _ in range(120):
        response = await client.post("/v1/embeddings", json={"model": "m", "input": "x"}, headers=headers)
        assert response.status == 200
    # Weights 3, 0.5, 0, 1.5 of 5: 72, 12, 0 and 36 of 120 draws.
    assert [len(fake.requests) for fake in fakes] == [72, 12, 0, 36]


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
