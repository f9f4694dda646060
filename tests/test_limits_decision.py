"""Header values computed from a decision, as OpenAI sends them."""

from __future__ import annotations

from gateway.limits.decision import (
    BUDGET,
    RATE,
    Decision,
    LimitState,
    format_duration,
    rate_limit_headers,
    retry_after_headers,
)


def state(kind, period, limit, used, reset_at, category=RATE):
    return LimitState("key-1", category, kind, period, limit, used, reset_at)


def test_the_tightest_window_of_each_type_is_reported():
    minute = state("requests", "rpm", 10, 4, 1060.0)
    day = state("requests", "rpd", 100, 98, 87400.0)
    tokens = state("tokens", "rpm", 1000, 250, 1060.0)
    decision = Decision(allowed=True, now=1030.5, states=(minute, day, tokens))
    assert rate_limit_headers(decision) == {
        "x-ratelimit-limit-requests": "100",
        "x-ratelimit-remaining-requests": "2",
        "x-ratelimit-reset-requests": "23h59m29.5s",
        "x-ratelimit-limit-tokens": "1000",
        "x-ratelimit-remaining-tokens": "750",
        "x-ratelimit-reset-tokens": "29.5s",
    }
    assert retry_after_headers(decision) == {}


def test_a_refusal_reports_the_window_that_refused_and_when_to_retry():
    minute = state("requests", "rpm", 10, 10, 1060.0)
    day = state("requests", "rpd", 100, 5, 87400.0)
    decision = Decision(allowed=False, now=1059.2, states=(minute, day), blocked_by=minute)
    assert decision.reason == "rate_limited"
    headers = rate_limit_headers(decision)
    assert headers["x-ratelimit-remaining-requests"] == "0"
    assert headers["x-ratelimit-reset-requests"] == "800ms"
    assert retry_after_headers(decision) == {"Retry-After": "1", "retry-after-ms": "800"}


def test_budget_refusals_and_budgets_that_never_reset():
    budget = state("credit", "total", 5, 5, None, category=BUDGET)
    decision = Decision(allowed=False, now=10.0, states=(budget,), blocked_by=budget)
    assert decision.reason == "budget_exhausted"
    assert rate_limit_headers(decision) == {}
    assert retry_after_headers(decision) == {}


def test_durations_in_openai_format():
    assert format_duration(0.0201) == "21ms"
    assert format_duration(1.5) == "1.5s"
    assert format_duration(360) == "6m0s"
    assert format_duration(3723) == "1h2m3s"


def test_an_admitting_count_reports_the_same_headers_as_its_states():
    # The counters' admitting decisions build headers from their plan, without states:
    # the same headers as from the states (ties: the first window that resets last).
    from gateway.limits.decision import StatePlan

    plan = StatePlan((
        state("requests", "rpm", 10, 0, 1060.0),
        state("requests", "rph", 100, 0, 3600.0),
        state("requests", "rpd", 100, 0, 86400.0),
        state("tokens", "rpm", 1000, 0, 1060.0),
        state("tokens", "monthly", 5000, 0, 99999.0, category=BUDGET),
    ))
    for used in ([1, 1, 1, 0, 0], [9, 95, 95, 999, 4999], [10, 100, 100, 1200, 0], [3, 95, 95, 10, 0]):
        counted = Decision.counted(1030.5, plan, used, -1)
        from_states = rate_limit_headers(Decision(allowed=True, now=1030.5, states=plan.with_used(used)))
        assert rate_limit_headers(counted) == from_states
        assert counted.states == plan.with_used(used) and counted.allowed
    assert rate_limit_headers(Decision.counted(1030.5, plan, [1, 95, 95, 10, 0], -1))["x-ratelimit-reset-requests"] \
        == "23h42m49.5s"  # rph and rpd both have 5 left: the one that resets last
    refused = Decision.counted(1030.5, plan, [11, 1, 1, 0, 0], 0)
    assert not refused.allowed and refused.blocked_by == refused.states[0] and refused.states[0].used == 11


def test_retry_after_rounds_a_fraction_of_a_second_up():
    # Rounded down, a client reading whole seconds would come back before the reset.
    minute = state("requests", "rpm", 10, 10, 1060.0)
    decision = Decision(allowed=False, now=1058.5, states=(minute,), blocked_by=minute)
    assert retry_after_headers(decision) == {"Retry-After": "2", "retry-after-ms": "1500"}


def test_of_several_spent_limits_the_refusal_names_the_one_to_wait_for():
    from gateway.limits.decision import StatePlan

    plan = StatePlan((
        state("requests", "rpm", 1, 0, 1060.0),
        state("requests", "rpd", 1, 0, 86400.0),
        state("tokens", "monthly", 100, 0, 2_592_000.0, category=BUDGET),
    ))
    # The counters name the first check that refused (the rpm); the rpd is spent too.
    both = Decision.counted(1030.0, plan, [1, 1, 5], 0)
    assert both.blocked_by.period == "rpd" and both.reason == "rate_limited"
    assert rate_limit_headers(both)["x-ratelimit-reset-requests"] == "23h42m50s"
    assert retry_after_headers(both) == {"Retry-After": "85370", "retry-after-ms": "85370000"}
    # A spent budget outlasts any window: a 412, not a 429 to retry in 30 s.
    budget = Decision.counted(1030.0, plan, [1, 0, 100], 0)
    assert budget.blocked_by.category == BUDGET and budget.reason == "budget_exhausted"
    only_minute = Decision.counted(1030.0, plan, [1, 0, 5], 0)
    assert only_minute.blocked_by.period == "rpm" and retry_after_headers(only_minute)["Retry-After"] == "30"
