"""Collecting every problem in a config, each named by its path, and field checks.

The whole config is checked before any upstream call, and the client learns about
every bad field at once: one 400 whose message lists them all
(``config.targets[1].strategy.mode: must be one of ...; config.retry.attempts: ...``).
A single problem keeps its own status and code (a custom host that is not allowed is a
403, a missing provider is ``missing_provider``).
"""

from __future__ import annotations

from typing import Any

from ..errors import GatewayError, InvalidConfig


class Problems:
    """The problems found so far; ``raise_any`` turns them into one GatewayError."""

    def __init__(self) -> None:
        self.errors: list[GatewayError] = []

    def add(self, path: str, problem: str, *, code: str | None = None) -> None:
        self.errors.append(InvalidConfig(f"{path}: {problem}", param=path, code=code))

    def add_error(self, error: GatewayError) -> None:
        self.errors.append(error)

    def raise_any(self) -> None:
        if not self.errors:
            return
        if len(self.errors) == 1:
            raise self.errors[0]
        message = "; ".join(error.message for error in self.errors)
        raise InvalidConfig(message, param=self.errors[0].param)


def positive_ms(value: Any, path: str, problems: Problems) -> int | None:
    """A duration in milliseconds (a positive number), or None after noting the problem."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        problems.add(path, "must be a positive number of milliseconds")
        return None
    return max(1, int(value))


def status_codes(value: Any, path: str, problems: Problems) -> frozenset[int] | None:
    if not isinstance(value, list) or not value:
        problems.add(path, "must be a non-empty list of HTTP status codes")
        return None
    codes = set()
    for index, code in enumerate(value):
        if isinstance(code, bool) or not isinstance(code, int) or not 100 <= code <= 599:
            problems.add(f"{path}[{index}]", "must be an HTTP status code (100-599)")
        else:
            codes.add(code)
    return frozenset(codes)


def header_names(value: Any, path: str, problems: Problems) -> tuple[str, ...] | None:
    if not isinstance(value, list) or not all(isinstance(n, str) and n.strip() for n in value):
        problems.add(path, "must be a list of header names")
        return None
    return tuple(name.strip().lower() for name in value)


def is_object(value: Any, path: str, problems: Problems) -> bool:
    if not isinstance(value, dict):
        problems.add(path, "must be an object")
        return False
    return True
