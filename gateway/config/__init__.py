"""The routing config: ``x-portkey-*`` headers and ``x-portkey-config`` → a RouteSpec.

A config is the JSON object of ``x-portkey-config``; the header mode
(``x-portkey-provider`` + ``Authorization``) is the same as the one-leaf config
``{"provider": ..., "api_key": ...}``. A config names a provider (a target), or a
``strategy`` with ``targets`` (a group, nesting to any depth), or only settings while
the provider comes from the headers::

    {"strategy": {"mode": "fallback", "on_status_codes": [429, 503]},
     "retry": {"attempts": 2},
     "targets": [
        {"provider": "openai", "api_key": "sk-...", "override_params": {"model": "gpt-4o"}},
        {"strategy": {"mode": "loadbalance"},
         "targets": [{"provider": "groq", "api_key": "...", "weight": 3},
                     {"provider": "together-ai", "api_key": "...", "weight": 1}]}]}

Modes: ``single`` (the first target), ``fallback`` (in order, moving on after a
failure), ``loadbalance`` (one target by ``weight``, default 1, 0 never),
``conditional`` (``conditions`` ``[{query, then}]`` and ``default``, naming targets by
``name``; see :mod:`.query`). What is inherited down the tree: :mod:`.inherit`. Which
headers beat the config: :mod:`.headers`. Which options a target takes: the ones
its provider declares (:mod:`.options`). Retry: :mod:`.policy` (attempts capped at 5).
Per target, ``request_timeout`` (ms until the first byte, per attempt) and
``idle_timeout`` (ms of silence allowed between two chunks of an answer). Keys may be
snake_case or camelCase; unknown keys are ignored, as Portkey does.

Every problem is found before any upstream call, each named by its path
(``config.targets[1].strategy.mode: must be one of ...``): :mod:`.problems`.
"""

from .headers import CONFIG_HEADER, METADATA_HEADER, parse_metadata
from .leaf import Target, normalise_keys
from .options import DeclaresOptions, ProviderCatalog, ProviderOption
from .policy import DEFAULT_RETRY_STATUSES, MAX_RETRY_ATTEMPTS, RetryPolicy
from .tree import MODES, Condition, Group, Leaf, Node, RouteSpec, build_route

__all__ = [
    "CONFIG_HEADER",
    "METADATA_HEADER",
    "DEFAULT_RETRY_STATUSES",
    "MAX_RETRY_ATTEMPTS",
    "MODES",
    "Condition",
    "DeclaresOptions",
    "Group",
    "Leaf",
    "Node",
    "ProviderCatalog",
    "ProviderOption",
    "RetryPolicy",
    "RouteSpec",
    "Target",
    "build_route",
    "normalise_keys",
    "parse_metadata",
]
