"""Queries of conditional routing, compiled once when the config is read.

A query is an object whose keys are fields or ``$and``/``$or``::

    {"metadata.plan": "pro"}                               bare value: $eq
    {"params.model": {"$in": ["gpt-4o", "gpt-4.1"]}}
    {"$or": [{"metadata.tier": {"$gte": 2}}, {"url.pathname": {"$regex": "embeddings$"}}]}

Fields: ``metadata.<key>`` (the ``x-portkey-metadata`` JSON), ``params.<key>`` (the
JSON request body) and ``url.pathname``; a dotted key reaches into nested objects.
Several keys in one object must all hold. Operators: ``$eq $ne $gt $gte $lt $lte $in
$nin $regex``. A field that is absent matches only ``$ne`` and ``$nin``; ordering
operators compare numbers with numbers and strings with strings, anything else is no
match; ``$regex`` searches strings.

``$regex`` runs on RE2 (``google-re2``), whose matching time grows linearly with the
value, never exponentially as a backtracking engine's can: both the pattern and the
value come from the client, and one catastrophic pattern (``^(a+)+$``) once held the
event loop for 49 s. RE2 has no backreferences or lookaround; such a pattern is a
config error. Two bounds keep the worst case small (a few ms): a value longer than
:data:`MAX_REGEX_VALUE` characters does not match (it is not searched), and a pattern
whose compiled program exceeds :data:`MAX_REGEX_PROGRAM` instructions (huge counted
repetitions such as ``[a-z]{1000}``) is a config error, as is a config with more than
:data:`MAX_REGEXES` of them (``tree`` counts).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import re2

from .problems import Problems

OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex")
_MISSING = object()

# Longest value (characters) a $regex searches; a longer one is no match.
MAX_REGEX_VALUE = 4096
# Largest compiled pattern (RE2 instructions); routing patterns need a few dozen.
MAX_REGEX_PROGRAM = 256
# Most $regex tests in one config: a request may evaluate each of them.
MAX_REGEXES = 16

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # a bad pattern is the client's 400, not a line on stderr


class Query(Protocol):
    roots: frozenset[str]

    def matches(self, facts: Mapping[str, Any]) -> bool: ...


@dataclass(frozen=True)
class AllOf:
    parts: tuple[Query, ...]
    roots: frozenset[str]

    def matches(self, facts: Mapping[str, Any]) -> bool:
        return all(part.matches(facts) for part in self.parts)


@dataclass(frozen=True)
class AnyOf:
    parts: tuple[Query, ...]
    roots: frozenset[str]

    def matches(self, facts: Mapping[str, Any]) -> bool:
        return any(part.matches(facts) for part in self.parts)


@dataclass(frozen=True)
class FieldTest:
    field: tuple[str, ...]
    operator: str
    operand: Any
    pattern: Any = None  # a compiled RE2 pattern, for $regex

    @property
    def roots(self) -> frozenset[str]:
        return frozenset({self.field[0]})

    def matches(self, facts: Mapping[str, Any]) -> bool:
        value: Any = facts
        for part in self.field:
            value = value.get(part, _MISSING) if isinstance(value, Mapping) else _MISSING
        op = self.operator
        if op == "$ne":
            return not _equal(value, self.operand)
        if op == "$nin":
            return not any(_equal(value, item) for item in self.operand)
        if value is _MISSING:
            return False
        if op == "$eq":
            return _equal(value, self.operand)
        if op == "$in":
            return any(_equal(value, item) for item in self.operand)
        if op == "$regex":
            if not isinstance(value, str) or len(value) > MAX_REGEX_VALUE:
                return False
            # surrogatepass: a value holding lone surrogates is searched, never a 500.
            return self.pattern.search(value.encode("utf-8", "surrogatepass")) is not None
        return _ordered(value, op, self.operand)


def _equal(a: Any, b: Any) -> bool:
    # JSON's true is not 1 (Python's True == 1 would say it is).
    return a is not _MISSING and isinstance(a, bool) == isinstance(b, bool) and a == b


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _ordered(value: Any, op: str, operand: Any) -> bool:
    if not ((_is_number(value) and _is_number(operand)) or (isinstance(value, str) and isinstance(operand, str))):
        return False
    if op == "$gt":
        return value > operand
    if op == "$gte":
        return value >= operand
    if op == "$lt":
        return value < operand
    return value <= operand


def regex_count(query: Query) -> int:
    """How many $regex tests ``query`` holds."""
    if isinstance(query, FieldTest):
        return int(query.operator == "$regex")
    return sum(regex_count(part) for part in query.parts)


def compile_query(value: Any, path: str, problems: Problems) -> Query | None:
    """The query at ``path``, or None once its problems are noted."""
    if not isinstance(value, dict) or not value:
        problems.add(path, "must be a non-empty object of conditions")
        return None
    parts: list[Query] = []
    for key, operand in value.items():
        where = f"{path}.{key}"
        if key in ("$and", "$or"):
            if not isinstance(operand, list) or not operand:
                problems.add(where, "must be a non-empty list of queries")
                continue
            subs = [compile_query(item, f"{where}[{i}]", problems) for i, item in enumerate(operand)]
            if all(subs):
                roots = frozenset().union(*(sub.roots for sub in subs))
                parts.append((AllOf if key == "$and" else AnyOf)(tuple(subs), roots))
        elif key.startswith("$"):
            problems.add(where, "unknown operator here; a query's keys are fields or $and / $or")
        else:
            field = _field(key, where, problems)
            if field is not None:
                parts.extend(_field_tests(field, operand, where, problems))
    return AllOf(tuple(parts), frozenset().union(*(part.roots for part in parts))) if parts else None


def _field(key: str, path: str, problems: Problems) -> tuple[str, ...] | None:
    field = tuple(key.split("."))
    if key == "url.pathname" or (field[0] in ("metadata", "params") and len(field) > 1 and all(field)):
        return field
    problems.add(path, "unknown field; conditions read metadata.<key>, params.<key> or url.pathname")
    return None


def _field_tests(field: tuple[str, ...], operand: Any, path: str, problems: Problems) -> list[FieldTest]:
    if not (isinstance(operand, dict) and operand and all(str(k).startswith("$") for k in operand)):
        return [FieldTest(field, "$eq", operand)]  # a bare value (even an object) means $eq
    tests = []
    for op, arg in operand.items():
        where = f"{path}.{op}"
        if op not in OPERATORS:
            problems.add(where, f"unknown operator; use one of {', '.join(OPERATORS)}")
        elif op in ("$in", "$nin") and not isinstance(arg, list):
            problems.add(where, "must be a list of values")
        elif op in ("$gt", "$gte", "$lt", "$lte") and not (_is_number(arg) or isinstance(arg, str)):
            problems.add(where, "must be a number or a string")
        elif op == "$regex":
            pattern = _regex(arg, where, problems)
            if pattern is not None:
                tests.append(FieldTest(field, op, arg, pattern))
        else:
            tests.append(FieldTest(field, op, tuple(arg) if isinstance(arg, list) else arg))
    return tests


def _regex(arg: Any, path: str, problems: Problems) -> Any:
    """The RE2 pattern, or None once its problem is noted."""
    if not isinstance(arg, str):
        problems.add(path, "must be a regular expression string")
        return None
    try:
        pattern = re2.compile(arg, _RE2_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        problems.add(
            path,
            f"not a regular expression the gateway runs ({reason}); patterns use RE2 syntax, "
            "without backreferences or lookaround",
        )
        return None
    if pattern.programsize > MAX_REGEX_PROGRAM:
        problems.add(
            path,
            f"pattern too complex for routing ({pattern.programsize} RE2 instructions, "
            f"at most {MAX_REGEX_PROGRAM}); shorten counted repetitions like {{1000}}",
        )
        return None
    return pattern
