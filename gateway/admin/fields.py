"""Reading an admin request's JSON body: every bad field named, all at once (400)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import orjson
from aiohttp import web

from ..errors import BadRequest

SLUG = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MISSING = object()


class InvalidField(BadRequest):
    code = "invalid_field"


async def read_object(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError as exc:
        raise InvalidField(f"body: not valid JSON ({exc})", param="body") from None
    if not isinstance(body, dict):
        raise InvalidField("body: must be a JSON object", param="body")
    return body


class Fields:
    """Typed reads from a body; ``check()`` raises one 400 naming every bad field."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.body = body
        self.problems: list[tuple[str, str]] = []

    def add(self, name: str, problem: str) -> None:
        self.problems.append((name, problem))

    def check(self) -> None:
        if self.problems:
            message = "; ".join(f"{name}: {problem}" for name, problem in self.problems)
            raise InvalidField(message, param=self.problems[0][0])

    def has(self, *names: str) -> bool:
        return any(name in self.body for name in names)

    def _get(self, names: tuple[str, ...]) -> tuple[str, Any]:
        for name in names:
            if name in self.body:
                return name, self.body[name]
        return names[0], _MISSING

    def string(self, *names: str, required: bool = False, default: str | None = None) -> str | None:
        """The first of ``names`` present (aliases: snake_case and camelCase)."""
        name, value = self._get(names)
        if value is _MISSING or value is None:
            if required:
                self.add(name, "required")
            return default
        if not isinstance(value, str) or (required and not value.strip()):
            self.add(name, "must be a non-empty string" if required else "must be a string")
            return default
        return value

    def slug(self, name: str) -> str | None:
        value = self.string(name)
        if value is not None and not SLUG.fullmatch(value):
            self.add(name, "1-64 letters, digits and . _ - (starting with a letter or digit)")
            return None
        return value

    def obj(self, name: str, *, required: bool = False) -> dict[str, Any] | None:
        value = self.body.get(name)
        if value is None:
            if required:
                self.add(name, "required: a JSON object")
            return None
        if not isinstance(value, dict):
            self.add(name, "must be a JSON object")
            return None
        return value

    def string_list(self, name: str) -> tuple[str, ...] | None:
        value = self.body.get(name)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
            self.add(name, "must be a list of non-empty strings")
            return None
        return tuple(value)

    def flag(self, name: str) -> int | None:
        value = self.body.get(name)
        if value is None:
            return None
        if value not in (0, 1) or isinstance(value, float):
            self.add(name, "must be 0 or 1")
            return None
        return int(value)

    def timestamp(self, name: str) -> str | None:
        value = self.body.get(name)
        if value is None:
            return None
        if isinstance(value, str):
            try:
                parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
            except ValueError:
                parsed = None
            if parsed is not None and parsed.tzinfo is not None:
                return value
        self.add(name, "must be an ISO 8601 time with a zone, e.g. 2030-01-31T00:00:00Z")
        return None

    def choice(self, name: str, choices: tuple[str, ...]) -> str | None:
        value = self.body.get(name)
        if value is None:
            return None
        if value not in choices:
            self.add(name, f"must be one of {', '.join(choices)}")
            return None
        return value
