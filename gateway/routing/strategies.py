"""Walking the routing tree: single, fallback, loadbalance, conditional.

Each returns the Outcome to answer with; an Outcome not chosen is discarded before
the next attempt starts, so at most one upstream answer is held open at a time.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from ..config import Group, Leaf, Node
from ..errors import BadRequest
from .attempt import Outcome, RouteContext, attempt
from .cached import call_cached
from .retry import call_with_retry


def route_outcome(ctx: RouteContext, node: Node) -> Awaitable[Outcome]:
    """``run(ctx, node)``; for a lone target without a cache (without retries) the
    coroutine of its calls (its one call) itself: a plain request then resumes through
    two coroutine frames fewer at each upstream read."""
    if isinstance(node, Leaf) and node.cache is None:
        return attempt(ctx, node) if node.retry.attempts == 0 else call_with_retry(ctx, node)
    return run(ctx, node)


async def run(ctx: RouteContext, node: Node) -> Outcome:
    if isinstance(node, Leaf):
        return await call_cached(ctx, node)
    if node.mode == "single":
        return await run(ctx, node.targets[0])
    if node.mode == "fallback":
        return await _fallback(ctx, node)
    if node.mode == "loadbalance":
        return await run(ctx, pick_weighted(node.targets, ctx.tools.random))
    return await run(ctx, node.targets[choose_condition(node, ctx)])


async def _fallback(ctx: RouteContext, group: Group) -> Outcome:
    """Targets in order until one answers 2xx or fails in a way that must not move on."""
    last = len(group.targets) - 1
    for index, child in enumerate(group.targets):
        outcome = await run(ctx, child)
        if outcome.ok or index == last or not moves_on(group, outcome):
            return outcome
        outcome.record.then = "fallback"
        outcome.discard()
    raise AssertionError("unreachable: a group has targets")


def moves_on(group: Group, outcome: Outcome) -> bool:
    """Any failure moves on, or only the statuses of ``strategy.on_status_codes``."""
    if group.on_status_codes is None:
        return True
    return outcome.status in group.on_status_codes


def pick_weighted(nodes: Sequence[Node], random: Callable[[], float]) -> Node:
    """One node, each with probability weight / total (weight 0: never)."""
    total = sum(node.weight for node in nodes)
    point = random() * total
    for node in nodes:
        if node.weight > 0:
            point -= node.weight
            chosen = node
            if point < 0:
                return node
    return chosen  # float rounding at the very top of the range


def choose_condition(group: Group, ctx: RouteContext) -> int:
    """The index of the target the first matching condition names, else the default."""
    facts = ctx.facts()
    for condition in group.conditions:
        if condition.query.matches(facts):
            return condition.then
    if group.default is not None:
        return group.default
    raise BadRequest(
        f"{group.path}.strategy: no condition matched this request and there is no default target",
        code="no_matching_condition",
        param=f"{group.path}.strategy.conditions",
    )
