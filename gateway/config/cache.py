"""The ``cache`` setting of a config or target, in every form Portkey accepts.

* ``{"mode": "simple", "max_age": 60}`` (``maxAge`` too; ``max_age`` in seconds, a
  number or a numeric string, as Portkey parses it); ``mode`` is required;
* ``"simple"`` / ``"semantic"``: the mode alone, with the operator's default age;
* ``"disabled"`` (any case), or ``{"mode": "disabled"}``: no cache here, which lets a
  target turn off a cache its parent set (``cache`` is replaced whole down the tree).

Other keys of the object (a semantic threshold, an embeddings target) are kept
verbatim in ``options`` for the mode that reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .problems import Problems

CACHE_MODES = ("simple", "semantic")


@dataclass(frozen=True)
class CachePolicy:
    mode: str
    # Seconds an answer may be served from the cache; None: the operator's default.
    max_age: int | None = None
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), repr=False)


class _Disabled:
    """``cache: "disabled"``: a child's explicit "no cache" (not the same as no setting)."""

    def __repr__(self) -> str:
        return "CACHE_DISABLED"


CACHE_DISABLED = _Disabled()


def parse_cache(value: Any, path: str, problems: Problems) -> CachePolicy | _Disabled | None:
    """The policy at ``path``; CACHE_DISABLED for an explicit off; None after a problem."""
    if isinstance(value, str):
        return _mode(value, path, problems, lambda mode: CachePolicy(mode))
    if not isinstance(value, Mapping):
        problems.add(path, 'must be an object like {"mode": "simple", "max_age": 60}, or "simple" / "semantic"')
        return None
    mode = value.get("mode")
    if not isinstance(mode, str):
        problems.add(f"{path}.mode", "must be defined: simple or semantic")
        return None
    max_age = _max_age(value.get("max_age"), f"{path}.max_age", problems)
    options = MappingProxyType({key: item for key, item in value.items() if key not in ("mode", "max_age")})
    threshold = options.get("similarity_threshold")  # semantic mode's, a cosine similarity
    if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0 < threshold <= 1):
        problems.add(f"{path}.similarity_threshold", "must be a number above 0 and at most 1 (a cosine similarity)")
        return None
    return _mode(mode, f"{path}.mode", problems, lambda mode: CachePolicy(mode, max_age, options))


def _mode(text: str, path: str, problems: Problems, build) -> CachePolicy | _Disabled | None:
    mode = text.strip().lower()
    if mode == "disabled":
        return CACHE_DISABLED
    if mode not in CACHE_MODES:
        problems.add(path, "must be one of: simple, semantic, disabled")
        return None
    return build(mode)


def _max_age(value: Any, path: str, problems: Problems) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 1 or value == float("inf"):
        problems.add(path, "must be a positive number of seconds")
        return None
    return int(value)
