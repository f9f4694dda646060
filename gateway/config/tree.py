"""The routing tree: groups (a strategy over targets) and leaves (one provider each).

Parsed and checked whole before any upstream call; every node knows its path in
Portkey's notation (``config``, ``config.targets[1]``, ``config.targets[1].targets[0]``),
which is also what ``x-portkey-last-used-option-index`` answers.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from multidict import CIMultiDictProxy

from ..custom_host import HostValidator
from ..header_values import checked_client_value
from .cache import CachePolicy
from .headers import CONFIG_HEADER, HeaderSettings, parse_config_header, read_headers
from .inherit import Inherited, inherit
from .leaf import TARGET_KEYS, Target, normalise_keys, parse_target
from .options import ProviderCatalog, option_keys
from .policy import NO_RETRY, RetryPolicy
from .problems import Problems, status_codes
from .query import MAX_REGEXES, Query, compile_query, regex_count
from .stored import VIRTUAL_KEY_HEADER, StoredLookup, expand_virtual_keys, stored_config

MODES = ("single", "fallback", "loadbalance", "conditional")
# Bounds on one config, so that a request cannot make the gateway walk a huge tree.
MAX_DEPTH = 10
MAX_NODES = 100


@dataclass(frozen=True)
class Leaf:
    path: str
    target: Target
    retry: RetryPolicy = NO_RETRY
    cache: CachePolicy | None = None
    name: str | None = None
    weight: float = 1.0


@dataclass(frozen=True)
class Condition:
    query: Query
    then: int  # index into the group's targets


@dataclass(frozen=True)
class Group:
    path: str
    mode: str
    targets: tuple[Node, ...]
    name: str | None = None
    weight: float = 1.0
    # fallback: the statuses that move on to the next target (None: any non-2xx).
    on_status_codes: frozenset[int] | None = None
    # conditional: the first condition that holds picks a target, else ``default``.
    conditions: tuple[Condition, ...] = ()
    default: int | None = None


Node = Leaf | Group


@dataclass(frozen=True)
class RouteSpec:
    """What the config middleware hands on: the routing tree, with each target's
    provider and credentials. Built from the headers that say where a request goes and
    the client's key, nothing else, so that one route serves every call that goes the
    same way: per-request data (``x-portkey-metadata``, the trace id, the body) is read
    from the request when routing needs it."""

    root: Node
    # The stored config (its slug) the route was built from; None: the request's own.
    stored_config: str | None = None

    # Worked out once: a route is frozen, and the route cache serves it to every call
    # that goes the same way, each of which reads these.
    @functools.cached_property
    def leaves(self) -> tuple[Leaf, ...]:
        return tuple(_leaves(self.root))

    @functools.cached_property
    def target(self) -> Target:
        """The first target: the only one of a one-target route."""
        return self.leaves[0].target

    @functools.cached_property
    def max_calls(self) -> int:
        """The most upstream calls this route can make (more than 1: the body is replayed)."""
        return _max_calls(self.root)

    @functools.cached_property
    def provider_names(self) -> tuple[str, ...]:
        """The providers its targets name, each once."""
        return tuple(dict.fromkeys(leaf.target.provider for leaf in self.leaves))

    @functools.cached_property
    def reads_body(self) -> bool:
        """Whether the body is read whole whatever the providers: it may be sent more
        than once (a stream cannot be replayed), a target rewrites it (override_params,
        applied to each target's own copy), a condition reads it, or a cache keys on it."""
        return (
            self.max_calls > 1
            or self.reads_params
            or any(leaf.target.override_params or leaf.cache is not None for leaf in self.leaves)
        )

    @functools.cached_property
    def reads_params(self) -> bool:
        """Whether a condition reads ``params.*`` (the JSON body)."""
        return any(
            "params" in condition.query.roots
            for group in _groups(self.root)
            for condition in group.conditions
        )


def build_route(
    headers: CIMultiDictProxy[str],
    hosts: HostValidator,
    *,
    providers: ProviderCatalog,
    api_key: str | None = None,
    stored: StoredLookup | None = None,
) -> RouteSpec:
    """Headers of one request → RouteSpec, or a 400 naming every bad field.

    ``providers``: the providers a target may name, each with the options it declares
    (the registry; passed in, so that this package never imports a provider).
    ``api_key``: the client's own provider key, for the targets it was meant for.
    ``hosts`` checks custom hosts (the app's CustomHosts, or a bare HostAllowList).
    ``stored``: the store's view, for ``x-portkey-config: pc-...`` and virtual keys
    (:mod:`.stored`); None: this gateway has no store.
    """
    for name, value in headers.items():
        # Received headers: aiohttp's parser refused control characters; bytes that are
        # not UTF-8 remain, and would be a 500 once sent upstream. A 400 naming the header.
        checked_client_value(value, name)
    config_text = headers.get(CONFIG_HEADER)
    stored_slug = None
    problems = Problems()
    if stored is not None and config_text is not None and config_text.strip()[:1] not in ("{", ""):
        raw, stored_slug = stored_config(config_text.strip(), stored, CONFIG_HEADER)
        config = normalise_keys(raw)
    else:
        config = parse_config_header(config_text)
    if stored is not None:
        config = expand_virtual_keys(config, headers.get(VIRTUAL_KEY_HEADER), stored, problems)
    header_settings = read_headers(headers, hosts, api_key, problems)
    builder = _Builder(header_settings, hosts, providers, problems, key_provider(config, header_settings))
    root = builder.node(config, "config", Inherited(retry=header_settings.retry or NO_RETRY), depth=0)
    problems.raise_any()
    return RouteSpec(root=root, stored_config=stored_slug)


@dataclass
class _Builder:
    headers: HeaderSettings
    hosts: HostValidator
    providers: ProviderCatalog
    problems: Problems
    key_provider: str | None
    count: int = 0
    regexes: int = 0

    @functools.cached_property
    def target_only_keys(self) -> tuple[str, ...]:
        # Only configs with groups ask: header mode is built without the walk.
        return (*TARGET_KEYS, *sorted(option_keys(self.providers)))

    def node(self, raw: Any, path: str, parent: Inherited, depth: int) -> Node | None:
        problems = self.problems
        if not isinstance(raw, dict):
            problems.add(path, "must be an object")
            return None
        self.count += 1
        if self.count == MAX_NODES + 1:
            problems.add(path, f"too many targets: a config holds at most {MAX_NODES}")
        name = raw.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            problems.add(f"{path}.name", "must be a non-empty string")
            name = None
        weight = raw.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            problems.add(f"{path}.weight", "must be a number from 0")
            weight = 1
        inherited = inherit(raw, path, parent, self.hosts, problems)
        if "strategy" in raw or "targets" in raw:
            for key in self.target_only_keys:
                if key in raw:
                    problems.add(
                        f"{path}.{key}",
                        "belongs on a target (a node with a provider), not on a group with strategy and targets",
                    )
            return self.group(raw, path, inherited, depth, name, float(weight))
        target = parse_target(
            raw, path, inherited, self.headers, self.providers, problems, key_provider=self.key_provider
        )
        if target is None:
            return None
        return Leaf(path, target, inherited.retry, inherited.cache, name, float(weight))

    def group(self, raw: dict, path: str, inherited: Inherited, depth: int, name, weight: float) -> Group | None:
        problems = self.problems
        strategy, targets = raw.get("strategy"), raw.get("targets")
        mode = None
        if not isinstance(strategy, dict):
            problems.add(f"{path}.strategy", 'required with targets, an object like {"mode": "fallback"}')
            strategy = {}
        else:
            mode = strategy.get("mode")
            if mode not in MODES:
                problems.add(f"{path}.strategy.mode", f"must be one of {', '.join(MODES)}")
                mode = None
        if not isinstance(targets, list) or not targets:
            problems.add(f"{path}.targets", "must be a non-empty list of targets")
            return None
        if depth >= MAX_DEPTH:
            problems.add(f"{path}.targets", f"targets nest deeper than {MAX_DEPTH} levels")
            return None
        children = [self.node(t, f"{path}.targets[{i}]", inherited, depth + 1) for i, t in enumerate(targets)]

        on_codes = strategy.get("on_status_codes")
        if on_codes is not None:
            if mode == "fallback":
                on_codes = status_codes(on_codes, f"{path}.strategy.on_status_codes", problems)
            else:
                problems.add(f"{path}.strategy.on_status_codes", "only applies to mode fallback (retry has its own)")
                on_codes = None
        conditions, default = self.conditions(strategy, path, mode, targets)
        if mode == "loadbalance" and all(isinstance(c, (Leaf, Group)) and c.weight == 0 for c in children):
            problems.add(f"{path}.targets", "loadbalance needs at least one target with a weight above 0")
        if mode is None or not all(children):
            return None
        return Group(path, mode, tuple(children), name, weight, on_codes, conditions, default)

    def conditions(self, strategy: dict, path: str, mode, targets: list) -> tuple[tuple[Condition, ...], int | None]:
        problems = self.problems
        where = f"{path}.strategy"
        if mode != "conditional":
            for key in ("conditions", "default"):
                if strategy.get(key) is not None:
                    problems.add(f"{where}.{key}", "only applies to mode conditional")
            return (), None
        names: dict[str, int] = {}
        for index, raw in enumerate(targets):
            name = raw.get("name") if isinstance(raw, dict) else None
            if isinstance(name, str) and name:
                if name in names:
                    problems.add(
                        f"{path}.targets[{index}].name", f"duplicate name {name!r}: conditions pick targets by name"
                    )
                names.setdefault(name, index)

        def pick(value: Any, at: str) -> int | None:
            if not isinstance(value, str) or value not in names:
                known = ", ".join(repr(n) for n in names) or "none (give targets a name)"
                problems.add(at, f"must name one of the targets; names: {known}")
                return None
            return names[value]

        raw_conditions = strategy.get("conditions")
        conditions = []
        if not isinstance(raw_conditions, list) or not raw_conditions:
            problems.add(
                f"{where}.conditions",
                'required for mode conditional: a list of {"query": {...}, "then": "<target name>"}',
            )
        else:
            for index, raw in enumerate(raw_conditions):
                at = f"{where}.conditions[{index}]"
                if not isinstance(raw, dict):
                    problems.add(at, 'must be an object {"query": {...}, "then": "<target name>"}')
                    continue
                query = compile_query(raw.get("query"), f"{at}.query", problems)
                if query is not None:
                    self.count_regexes(query, f"{at}.query")
                then = pick(raw.get("then"), f"{at}.then")
                if query is not None and then is not None:
                    conditions.append(Condition(query, then))
        default = None
        if strategy.get("default") is not None:
            default = pick(strategy["default"], f"{where}.default")
        return tuple(conditions), default


    def count_regexes(self, query: Query, path: str) -> None:
        # Each $regex is linear in its value, but a request may evaluate all of them.
        before = self.regexes
        self.regexes += regex_count(query)
        if before <= MAX_REGEXES < self.regexes:
            self.problems.add(path, f"too many $regex tests: a config holds at most {MAX_REGEXES}")


def key_provider(config: Mapping[str, Any], headers: HeaderSettings) -> str | None:
    """The provider the client's own key is for: the one ``x-portkey-provider`` names,
    else the one provider every target of the config names (the key cannot have been
    meant for another)."""
    if headers.provider is not None:
        return headers.provider
    named: set[Any] = set()

    def collect(node: Any) -> None:
        if not isinstance(node, dict):
            return
        if "strategy" in node or "targets" in node:
            for child in node.get("targets") or ():
                collect(child)
        else:
            provider = node.get("provider")
            named.add(provider.strip().lower() if isinstance(provider, str) else provider)

    collect(config)
    return named.pop() if len(named) == 1 else None


def _leaves(node: Node) -> Iterator[Leaf]:
    if isinstance(node, Leaf):
        yield node
    else:
        for child in node.targets:
            yield from _leaves(child)


def _groups(node: Node) -> Iterator[Group]:
    if isinstance(node, Group):
        yield node
        for child in node.targets:
            yield from _groups(child)


def _max_calls(node: Node) -> int:
    if isinstance(node, Leaf):
        return node.retry.attempts + 1
    if node.mode == "single":
        return _max_calls(node.targets[0])
    counts = [_max_calls(child) for child in node.targets]
    return sum(counts) if node.mode == "fallback" else max(counts)
