"""The shipped price table, operator overrides, model-name normalisation and cost()."""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

import pytest

from gateway.limits.pricing import PricingError, load_price_table


@dataclass(frozen=True)
class Usage:  # the shape of gateway.usage.Usage (OpenAI's meaning of the counts)
    input: int = 0
    output: int = 0
    cache_read: int = 0
    cache_write: int = 0
    reasoning: int = 0


SHIPPED = load_price_table()


def test_the_shipped_table_states_its_sources_and_date():
    from importlib import resources

    data = json.loads(resources.files("gateway.limits").joinpath("pricing.json").read_text())
    assert data["date"] and any("openai.com" in line for line in data["about"])
    assert {"openai", "anthropic", "bedrock"} <= set(data["providers"])


def test_cost_of_an_openai_answer_with_cached_and_reasoning_tokens():
    # gpt-4o: $2.50 / 1M input, $1.25 / 1M cached input, $10 / 1M output; reasoning is part of output.
    usage = Usage(input=1_000_000, cache_read=400_000, output=100_000, reasoning=50_000)
    assert SHIPPED.cost("openai", "gpt-4o", usage) == Decimal("1.5") + Decimal("0.5") + Decimal("1")


def test_cost_of_an_anthropic_answer_with_cache_writes():
    # claude-3-5-sonnet: $3 / 1M input, cache write $3.75, cache read $0.30, output $15.
    usage = Usage(input=3_000, cache_read=1_000, cache_write=1_000, output=1_000)
    assert SHIPPED.cost("anthropic", "claude-3-5-sonnet-20241022", usage) == Decimal("0.0220500")


@pytest.mark.parametrize(
    ("provider", "model", "family"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "GPT-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai", "gpt-4-0613", "gpt-4"),
        ("azure-openai", "gpt-4.1-2025-04-14", "gpt-4.1"),
        ("anthropic", "claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        ("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("bedrock", "anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet"),
        ("bedrock", "us.anthropic.claude-3-7-sonnet-20250219-v1:0", "claude-3-7-sonnet"),
        ("bedrock", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
        ("bedrock", "amazon.titan-embed-text-v2:0", "titan-embed-text-v2"),
        ("bedrock", "us.amazon.nova-pro-v1:0", "nova-pro"),
    ],
)
def test_dated_snapshots_and_bedrock_ids_find_their_family(provider, model, family):
    table_provider = "openai" if provider == "azure-openai" else provider
    assert SHIPPED.price(provider, model) == SHIPPED.providers[table_provider][family]


def test_an_exact_entry_wins_over_its_family():
    assert SHIPPED.price("openai", "gpt-4o-2024-05-13").input == Decimal("0.000005")
    assert SHIPPED.price("openai", "gpt-4o-2024-08-06").input == Decimal("0.0000025")


def test_an_unknown_model_has_no_price():
    assert SHIPPED.cost("openai", "gpt-99", Usage(input=1)) is None
    assert SHIPPED.cost("groq", "llama-3.1-8b-instant", Usage(input=1)) is None
    # Normalising never strips a version that is part of the name: Opus 4.5 is not Opus 4.
    assert SHIPPED.price("anthropic", "claude-opus-4-5") != SHIPPED.price("anthropic", "claude-opus-4")
    assert SHIPPED.price("anthropic", "claude-opus-4-6") is None


def test_an_operator_file_overrides_and_extends(tmp_path):
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"providers": {
        "openai": {"gpt-4o": {"input": "0.000002", "output": "0.000008"}},
        "groq": {"llama-3.1-8b-instant": {"input": 5e-08, "output": 8e-08}},
    }}))
    table = load_price_table(override)
    assert table.price("openai", "gpt-4o").input == Decimal("0.000002")
    assert table.price("openai", "gpt-4o").cache_read == Decimal("0.000002")  # defaults to input
    assert table.price("openai", "gpt-4o-mini") == SHIPPED.price("openai", "gpt-4o-mini")
    assert table.cost("groq", "llama-3.1-8b-instant", Usage(input=100, output=100)) == Decimal("0.000013")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{", "not JSON"),
        ('{"openai": {}}', "expected an object with \"providers\""),
        ('{"providers": {"openai": {"m": {"input": 1}}}}', "providers.openai.m.output: is required"),
        ('{"providers": {"openai": {"m": {"input": -1, "output": 1}}}}', "providers.openai.m.input: must be zero or more"),
        ('{"providers": {"openai": {"m": {"input": "x", "output": 1}}}}', "providers.openai.m.input: not a number"),
        ('{"providers": {"openai": {"m": {"input": 1, "output": 1, "batch": 1}}}}', "providers.openai.m.batch: unknown field"),
    ],
)
def test_a_bad_operator_file_is_refused_naming_the_entry(tmp_path, content, message):
    override = tmp_path / "prices.json"
    override.write_text(content)
    with pytest.raises(PricingError, match=message):
        load_price_table(override)


def test_a_missing_operator_file_is_refused(tmp_path):
    with pytest.raises(PricingError, match="cannot read"):
        load_price_table(tmp_path / "absent.json")


def test_cost_in_nano_usd_is_exact_and_rounded_up_as_the_counters_were_charged(tmp_path):
    # What the wiring charges (integers, no Decimal per answer) is what the counters
    # made of cost() before: ceil(cost x 10^9), for every shipped price.
    import math

    counts = [Usage(input=1), Usage(input=7, output=3, cache_read=2, cache_write=1),
              Usage(input=123_457, output=98_765, cache_read=50_000), Usage(output=1_000_003), Usage()]
    for provider, models in SHIPPED.providers.items():
        for model in models:
            for usage in counts:
                assert SHIPPED.cost_nano(provider, model, usage) == math.ceil(SHIPPED.cost(provider, model, usage) * 10**9)
    # Prices finer than a nano-dollar per token: the answer's sum is rounded up once.
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"providers": {"groq": {"tiny": {"input": "0.0000000001", "output": "1.5e-10"}}}}))
    table = load_price_table(override)
    assert table.cost_nano("groq", "tiny", Usage(input=10)) == 1
    assert table.cost_nano("groq", "tiny", Usage(input=10, output=1)) == 2  # 1.15 nano-USD
    assert table.cost_nano("groq", "tiny", Usage(input=30, output=20)) == 6
    assert table.cost_nano("groq", "tiny", Usage()) == 0
    assert table.cost_nano("groq", "unknown", Usage(input=1)) is None
