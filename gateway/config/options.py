"""Provider options: what a provider adds to the config, declared in its own package.

A provider lists its options as :class:`ProviderOption` rows (a config key and the
``x-portkey-*`` header that also sets it) in its ``config_options``; the config layer
reads the options of the provider each target names, from the providers handed to
``build_route``. So the config layer never imports a provider, and a new provider's
options are a declaration beside its code::

    config_options = (
        ProviderOption("vertex_project_id", "x-portkey-vertex-project-id"),
        ProviderOption("vertex_region", "x-portkey-vertex-region"),
    )

Option values may be secrets (AWS keys, a service account): ``Target`` keeps them out of
its ``repr``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

_SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_OPTION_HEADER = re.compile(r"x-portkey-[a-z0-9]+(-[a-z0-9]+)*")


@dataclass(frozen=True)
class ProviderOption:
    """A string option of a provider: config ``key`` (snake_case), or the ``header``."""

    key: str
    header: str
    # Becomes one segment of the upstream path (Azure's ``deployments/{id}/``): checked
    # like the request path, so that no value can climb out of the provider's base.
    path_segment: bool = False
    # May be given in a config as a JSON object (a service-account key): kept as its
    # JSON text, like the header's value.
    json_object: bool = False

    def __post_init__(self) -> None:
        if not _SNAKE_CASE.fullmatch(self.key):
            raise ValueError(f"option key must be snake_case (configs are normalised to it): {self.key!r}")
        # Only x-portkey-* headers are part of the route cache's key and are never
        # forwarded upstream; an option read from another header would be neither.
        if not _OPTION_HEADER.fullmatch(self.header):
            raise ValueError(f"option header must be a lower-case x-portkey-* name: {self.header!r}")


class DeclaresOptions(Protocol):
    """What the config layer knows of a provider: the options a target of it takes."""

    @property
    def config_options(self) -> tuple[ProviderOption, ...]: ...


# Provider name → its declaration (the provider registry is one).
ProviderCatalog = Mapping[str, DeclaresOptions]


def option_keys(providers: ProviderCatalog) -> frozenset[str]:
    """Every option key any provider declares: keys that belong on a target only."""
    return frozenset(option.key for provider in providers.values() for option in provider.config_options)

