"""The conditional-routing query language, one operator at a time."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest

from gateway.config.problems import Problems
from gateway.config.query import MAX_REGEX_VALUE, compile_query
from tests.routing.conftest import leaf
from tests.test_cli import start_gateway

FACTS = {
    "metadata": {"plan": "pro", "seats": 12, "beta": True, "userTier": "gold"},
    "params": {"model": "gpt-4o-mini", "max_tokens": 100, "response_format": {"type": "json_object"}},
    "url": {"pathname": "/v1/chat/completions"},
}


def holds(query: dict) -> bool:
    problems = Problems()
    compiled = compile_query(query, "q", problems)
    assert not problems.errors, [e.message for e in problems.errors]
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
        ({"$and": [{"params.a": {"$regex": "("}}]}, "q.$and[0].params.a.$regex: not a regular expression"),
        # RE2 runs in linear time because it has no backreferences and no lookaround.
        ({"params.a": {"$regex": r"(a)\1"}}, "q.params.a.$regex: not a regular expression the gateway runs"),
        ({"params.a": {"$regex": "(?=a)b"}}, "q.params.a.$regex: not a regular expression the gateway runs"),
        ({"params.a": {"$regex": "(?<!a)b"}}, "q.params.a.$regex: not a regular expression the gateway runs"),
        ({"params.a": {"$regex": "[a-z]{300}"}}, "q.params.a.$regex: pattern too complex for routing"),
    ],
)
def test_bad_queries_name_the_path(query, problem):
    problems = Problems()
    compile_query(query, "q", problems)
    assert [e.message for e in problems.errors][0].startswith(problem)


def test_a_catastrophic_pattern_is_searched_in_linear_time():
    # ^(a+)+$ on 30 a's and a "!" took Python's re ~49 s; RE2 answers at once.
    assert holds({"metadata.plan": {"$regex": "^(a+)+$"}}) is False
    problems = Problems()
    query = compile_query({"metadata.u": {"$regex": "^(a+)+$"}}, "q", problems)
    assert query.matches({"metadata": {"u": "a" * 30}})
    assert not query.matches({"metadata": {"u": "a" * 30 + "!"}})


def test_a_value_over_the_cap_does_not_match():
    problems = Problems()
    query = compile_query({"metadata.u": {"$regex": "a"}}, "q", problems)
    assert query.matches({"metadata": {"u": "a" * MAX_REGEX_VALUE}})
    assert not query.matches({"metadata": {"u": "a" * (MAX_REGEX_VALUE + 1)}})


def test_regex_reads_unicode_and_never_fails_on_surrogates():
    problems = Problems()
    query = compile_query({"url.pathname": {"$regex": "(?i)^/v1/CAFÉ"}}, "q", problems)
    assert query.matches({"url": {"pathname": "/v1/café"}})
    assert not query.matches({"url": {"pathname": "/v1/\udcff"}})


async def test_a_catastrophic_regex_does_not_freeze_the_gateway(fake_openai, unused_tcp_port):
    """Through a real gateway process: with Python's re this request held its event
    loop ~49 s, so neither it nor /health could answer; each now answers at once."""
    process = await start_gateway(unused_tcp_port)
    base = f"http://127.0.0.1:{unused_tcp_port}"
    fake_openai.hang = asyncio.Event()  # the routed call stays in flight until set
    config = {
        "strategy": {
            "mode": "conditional",
            "conditions": [{"query": {"metadata.u": {"$regex": "^(a+)+$"}}, "then": "evil"}],
            "default": "fine",
        },
        "targets": [leaf(fake_openai, name="evil"), leaf(fake_openai, name="fine")],
    }
    headers = {"x-portkey-config": json.dumps(config), "x-portkey-metadata": json.dumps({"u": "a" * 30 + "!"})}
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    call = None
    try:
        async with aiohttp.ClientSession() as session:

            async def routed_call():
                async with session.post(base + "/v1/chat/completions", json=body, headers=headers) as response:
                    return response.status, response.headers.copy(), await response.json()

            call = asyncio.create_task(routed_call())
            # The condition was evaluated and the call reached the upstream promptly.
            await asyncio.wait_for(fake_openai.request_seen.wait(), timeout=5)
            async with asyncio.timeout(5), session.get(base + "/health") as health:
                assert health.status == 200  # answered while the routed call is in flight
            assert not call.done()
            fake_openai.hang.set()
            status, answer_headers, answer = await asyncio.wait_for(call, timeout=5)
        assert status == 200, answer
        assert answer_headers["x-portkey-last-used-option-index"] == "config.targets[1]"
    finally:
        if call is not None:
            call.cancel()
        process.kill()
        await process.communicate()
