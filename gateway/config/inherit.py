"""What a node of the routing tree passes down to its targets.

Portkey's rules, followed exactly: ``override_params`` are merged shallowly (the child's
keys win); ``retry`` and ``cache`` are replaced whole by a child's own; ``request_timeout``,
``idle_timeout``, ``custom_host`` and ``forward_headers`` are inherited when a child
does not set them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from ..custom_host import HostValidator
from ..errors import BadRequest
from .cache import CACHE_DISABLED, CachePolicy, parse_cache
from .policy import NO_RETRY, RetryPolicy, parse_retry
from .problems import Problems, header_names, is_object, positive_ms


@dataclass(frozen=True)
class Inherited:
    override_params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    retry: RetryPolicy = NO_RETRY
    cache: CachePolicy | None = None
    request_timeout_ms: int | None = None
    idle_timeout_ms: int | None = None
    custom_host: str | None = None
    forward_headers: tuple[str, ...] = ()


def inherit(
    node: Mapping[str, Any], path: str, parent: Inherited, hosts: HostValidator, problems: Problems
) -> Inherited:
    """``parent``'s settings with this node's own applied."""
    changes: dict[str, Any] = {}
    override = node.get("override_params")
    if override is not None and is_object(override, f"{path}.override_params", problems):
        changes["override_params"] = MappingProxyType({**parent.override_params, **override})
    if node.get("retry") is not None:
        retry = parse_retry(node["retry"], f"{path}.retry", problems)
        if retry is not None:
            changes["retry"] = retry
    if node.get("cache") is not None:
        cache = parse_cache(node["cache"], f"{path}.cache", problems)
        if cache is not None:
            changes["cache"] = None if cache is CACHE_DISABLED else cache
    for key, attribute in (("request_timeout", "request_timeout_ms"), ("idle_timeout", "idle_timeout_ms")):
        if node.get(key) is not None:
            value = positive_ms(node[key], f"{path}.{key}", problems)
            if value is not None:
                changes[attribute] = value
    if node.get("custom_host") is not None:
        try:
            changes["custom_host"] = hosts.validate(node["custom_host"], param=f"{path}.custom_host")
        except BadRequest as exc:
            problems.add_error(exc)
    if node.get("forward_headers") is not None:
        names = header_names(node["forward_headers"], f"{path}.forward_headers", problems)
        if names is not None:
            changes["forward_headers"] = names
    return replace(parent, **changes) if changes else parent
