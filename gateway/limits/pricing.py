"""What an answer cost: a shipped price table, operator overrides, ``cost()``.

``pricing.json`` (package data) holds USD per token for input, output, cache-read and
cache-write tokens, per provider and model, with its sources and date. ``--pricing-file``
names a file of the same shape whose entries replace or extend the shipped ones.

Model names are looked up as sent, then normalised step by step, so dated snapshots and
Bedrock ids find their family's price: ``gpt-4o-2024-08-06`` → ``gpt-4o``;
``us.anthropic.claude-3-5-sonnet-20240620-v1:0`` → ``claude-3-5-sonnet``. An exact entry
wins (``gpt-4o-2024-05-13`` has its own, higher price).

A model without a price: :func:`PriceTable.cost` answers ``None`` ("unknown"). The
tokens are still counted; a key with a ``credit_limit`` refuses such a model before the
call (``model_price_unknown``, see :mod:`gateway.limits.counters`): spend that cannot be
metered is never let through silently. Add the price with ``--pricing-file``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import Protocol

PRICE_FIELDS = ("input", "output", "cache_read", "cache_write")


class PricingError(ValueError):
    """A price table that cannot be used; the message names the file and the entry."""


class UsageLike(Protocol):
    """Token counts in OpenAI's meaning (``gateway.usage.Usage`` fits).

    ``input`` counts every input token, ``cache_read`` and ``cache_write`` are parts of
    it; ``output`` counts every output token, ``reasoning`` is part of it.
    """

    input: int
    output: int
    cache_read: int
    cache_write: int
    reasoning: int


@dataclass(frozen=True)
class Price:
    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal
    # The four prices as integers of 10^-scale USD (exact: ``scale`` is the most decimal
    # places any of them has), so that an answer is priced in integer arithmetic.
    _units: tuple[int, int, int, int] = field(init=False, compare=False, repr=False)
    _scale: int = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        prices = (self.input, self.output, self.cache_read, self.cache_write)
        scale = max(0, *(-price.as_tuple().exponent for price in prices))
        object.__setattr__(self, "_units", tuple(int(price.scaleb(scale)) for price in prices))
        object.__setattr__(self, "_scale", scale)

    def cost(self, usage: UsageLike) -> Decimal:
        uncached = max(usage.input - usage.cache_read - usage.cache_write, 0)
        return (
            uncached * self.input
            + usage.cache_read * self.cache_read
            + usage.cache_write * self.cache_write
            + usage.output * self.output
        )

    def cost_nano(self, usage: UsageLike) -> int:
        """:meth:`cost` in integer nano-USD, rounded up, as the cost counters hold it
        (computed in 10^-scale USD: integers, exact whatever the counts)."""
        input_, output, cache_read, cache_write = self._units
        uncached = usage.input - usage.cache_read - usage.cache_write
        amount = ((uncached * input_ if uncached > 0 else 0) + usage.cache_read * cache_read
                  + usage.cache_write * cache_write + usage.output * output)
        scale = self._scale
        if scale <= 9:
            return amount * 10 ** (9 - scale)
        return -(-amount // 10 ** (scale - 9))


@dataclass(frozen=True)
class PriceTable:
    providers: Mapping[str, Mapping[str, Price]] = field(default_factory=dict)
    # Providers billed from another's table (Azure OpenAI bills OpenAI's models).
    aliases: Mapping[str, str] = field(default_factory=dict)

    # Lookups already made (normalising a name runs several regexes): (provider, model) -> price.
    _found: dict[tuple[str, str], Price | None] = field(default_factory=dict, compare=False, repr=False)

    def price(self, provider: str, model: str) -> Price | None:
        key = (provider, model)
        try:
            return self._found[key]
        except KeyError:
            pass
        if len(self._found) >= 4096:  # model names come from clients: keep it bounded
            self._found.clear()
        price = self._found[key] = self._look_up(provider, model)
        return price

    def _look_up(self, provider: str, model: str) -> Price | None:
        models = self.providers.get(provider)
        if models is None and provider in self.aliases:
            models = self.providers.get(self.aliases[provider])
        if not models:
            return None
        for name in model_name_candidates(model):
            price = models.get(name)
            if price is not None:
                return price
        return None

    def cost(self, provider: str, model: str, usage: UsageLike) -> Decimal | None:
        """USD for this usage, or None when the model has no price."""
        price = self.price(provider, model)
        return None if price is None else price.cost(usage)

    def cost_nano(self, provider: str, model: str, usage: UsageLike) -> int | None:
        """:meth:`cost` in integer nano-USD (10^-9 USD), rounded up: what the counters
        add (exact, and no Decimal arithmetic per answer). None: no price."""
        price = self.price(provider, model)
        return None if price is None else price.cost_nano(usage)

    def extended(self, other: PriceTable) -> PriceTable:
        """This table with ``other``'s entries replacing or adding to it."""
        providers = {name: dict(models) for name, models in self.providers.items()}
        for name, models in other.providers.items():
            providers.setdefault(name, {}).update(models)
        return PriceTable(providers, {**self.aliases, **other.aliases})


_ARN = re.compile(r"^arn:aws[\w-]*:bedrock:[^/]*/")
_REGION_PREFIX = re.compile(r"^(?:us|eu|apac|ap|jp|au|ca|us-gov|global)\.")
_VENDOR_PREFIX = re.compile(r"^(?:anthropic|amazon|meta|mistral|cohere|ai21|deepseek|openai|qwen|writer)\.")
_VERSION_COLON = re.compile(r":\d+$")
_VERSION_SUFFIX = re.compile(r"-v\d+$")
_DATE_SUFFIX = re.compile(r"-(?:\d{4}-\d{2}-\d{2}|\d{8}|\d{4}|latest)$")


def model_name_candidates(model: str) -> Iterator[str]:
    """The model name as sent, then ever more normalised (duplicates possible)."""
    name = model.strip().lower()
    yield name
    name = _ARN.sub("", name)
    name = _REGION_PREFIX.sub("", name)
    name = _VENDOR_PREFIX.sub("", name)
    name = _VERSION_COLON.sub("", name)
    yield name
    name = _VERSION_SUFFIX.sub("", name)
    yield name
    yield _DATE_SUFFIX.sub("", name)


def load_price_table(pricing_file: str | Path | None = None) -> PriceTable:
    """The shipped table, extended by ``pricing_file`` when given."""
    shipped = resources.files(__package__).joinpath("pricing.json").read_text()
    table = parse_price_table(json.loads(shipped), "pricing.json")
    if pricing_file is None:
        return table
    path = Path(pricing_file)
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise PricingError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise PricingError(f"{path}: not JSON: {exc}") from None
    return table.extended(parse_price_table(data, str(path)))


def parse_price_table(data: object, source: str) -> PriceTable:
    if not isinstance(data, Mapping) or not isinstance(data.get("providers"), Mapping):
        raise PricingError(f"{source}: expected an object with \"providers\": {{provider: {{model: prices}}}}")
    aliases = data.get("aliases", {})
    if not isinstance(aliases, Mapping) or not all(isinstance(v, str) for v in aliases.values()):
        raise PricingError(f"{source}: aliases: expected {{provider: provider}}")
    providers: dict[str, dict[str, Price]] = {}
    for provider, models in data["providers"].items():
        if not isinstance(models, Mapping):
            raise PricingError(f"{source}: providers.{provider}: expected {{model: prices}}")
        providers[provider] = {
            model.lower(): _parse_price(prices, f"{source}: providers.{provider}.{model}") for model, prices in models.items()
        }
    return PriceTable(providers, dict(aliases))


def _parse_price(prices: object, where: str) -> Price:
    if not isinstance(prices, Mapping):
        raise PricingError(f"{where}: expected {{input, output, cache_read, cache_write}}")
    unknown = set(prices) - set(PRICE_FIELDS)
    if unknown:
        raise PricingError(f"{where}.{sorted(unknown)[0]}: unknown field (expected {', '.join(PRICE_FIELDS)})")
    values: dict[str, Decimal] = {}
    for name in ("input", "output"):
        if name not in prices:
            raise PricingError(f"{where}.{name}: is required (USD per token)")
    for name in PRICE_FIELDS:
        if name not in prices:
            continue  # cache prices default to the input price: never cheaper than sure
        value = prices[name]
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise InvalidOperation
            amount = Decimal(str(value))
        except InvalidOperation:
            raise PricingError(f"{where}.{name}: not a number") from None
        if not amount.is_finite() or amount < 0:
            raise PricingError(f"{where}.{name}: must be zero or more USD per token")
        values[name] = amount
    values.setdefault("cache_read", values["input"])
    values.setdefault("cache_write", values["input"])
    return Price(**values)
