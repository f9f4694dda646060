"""The conditional-routing query language, one operator at a time."""

from __future__ import annotations

import pytest

from gateway.config.problems import Problems
from gateway.config.query import compile_query

FACTS = {
    "metadata": {"plan": "pro", "seats": 12, "beta": True, "userTier": "gold"},
    "params": {"model": "gpt-4o-mini", "max_tokens": 100, "response_format": {"type": "json_object"}},
    "url": {"pathname": "/v1/chat/completions"},
}


def holds(query: dict) -> bool:
    problems = Problems()
    compiled = compile_query(query, "q", problems)
    assert not problems, [e.message for e in problems.errors]
    return compiled.matches(FACTS)


@pytest.mark.parametrize(
    "query, expected",
    [
        ({"metadata.plan": "pro"}, True),
        ({"metadata.plan": {"$eq": "free"}}, False),
        ({"metadata.plan": {"$ne": "free"}}, True),
        ({"metadata.missing": {"$ne": "x"}}, True),
        ({"metadata.missing": {"$nin": ["x"]}}, True),
        ({"metadata.missing": {"$in": ["x"]}}, False),
        ({"metadata.missing": {"$lt": 5}}, False),
        ({"metadata.seats": {"$gt": 10, "$lte": 12}}, True),
        ({"metadata.seats": {"$gte": 13}}, False),
        ({"metadata.seats": {"$lt": "20"}}, False),  # a number is not compared with a string
        ({"metadata.plan": {"$gt": "basic"}}, True),
        ({"metadata.beta": 1}, False),  # JSON true is not 1
        ({"metadata.beta": True}, True),
        ({"metadata.userTier": "gold"}, True),
        ({"params.model": {"$in": ["gpt-4o", "gpt-4o-mini"]}}, True),
        ({"params.model": {"$nin": ["gpt-4o", "gpt-4o-mini"]}}, False),
        ({"params.model": {"$regex": "^gpt-4o"}}, True),
        ({"params.max_tokens": {"$regex": "100"}}, False),  # regex only matches strings
        ({"params.response_format.type": "json_object"}, True),
        ({"params.response_format": {"type": "json_object"}}, True),
        ({"url.pathname": {"$regex": "/chat/"}}, True),
        ({"metadata.plan": "pro", "params.model": "other"}, False),
        ({"$or": [{"metadata.plan": "free"}, {"params.max_tokens": {"$gte": 100}}]}, True),
        ({"$and": [{"metadata.plan": "pro"}, {"$or": [{"metadata.seats": 1}, {"metadata.seats": 2}]}]}, False),
    ],
)
def test_operators(query, expected):
    assert holds(query) is expected


def test_roots_tell_whether_the_body_is_read():
    problems = Problems()
    assert compile_query({"metadata.a": 1}, "q", problems).roots == {"metadata"}
    assert compile_query({"$or": [{"metadata.a": 1}, {"params.b": 2}]}, "q", problems).roots == {"metadata", "params"}


@pytest.mark.parametrize(
    "query, problem",
    [
        ({}, "q: must be a non-empty object of conditions"),
        ({"$or": []}, "q.$or: must be a non-empty list of queries"),
        ({"$not": {}}, "q.$not: unknown operator here; a query's keys are fields or $and / $or"),
        ({"metadata": 1}, "q.metadata: unknown field; conditions read metadata.<key>, params.<key> or url.pathname"),
        ({"url.host": 1}, "q.url.host: unknown field; conditions read metadata.<key>, params.<key> or url.pathname"),
        ({"params.a": {"$in": "x"}}, "q.params.a.$in: must be a list of values"),
        ({"params.a": {"$gt": [1]}}, "q.params.a.$gt: must be a number or a string"),
        ({"params.a": {"$regex": 5}}, "q.params.a.$regex: must be a regular expression string"),
        ({"$and": [{"params.a": {"$regex": "("}}]}, "q.$and[0].params.a.$regex: not a valid regular expression"),
    ],
)
def test_bad_queries_name_the_path(query, problem):
    problems = Problems()
    compile_query(query, "q", problems)
    assert [e.message for e in problems.errors][0].startswith(problem)
