"""Portkey's rate_limits / usage_limits parsed into frozen dataclasses; windows and periods in UTC."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from gateway.limits.model import LimitsError, RateLimit, UsageLimits, parse_limits
from gateway.limits.windows import budget_period, rate_window, utc_day


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_portkey_shapes_parse_into_frozen_values():
    limits = parse_limits(
        [{"type": "requests", "unit": "rpm", "value": 60}, {"type": "tokens", "unit": "rpd", "value": 10000}],
        {"credit_limit": 12.5, "periodic_reset": "monthly", "alert_threshold": "10", "token_limit": 5000},
    )
    assert limits.request_limits == (RateLimit("requests", "rpm", 60),)
    assert limits.token_limits == (RateLimit("tokens", "rpd", 10000),)
    assert limits.usage_limits == UsageLimits(Decimal("12.5"), 5000, "monthly", Decimal("10"))
    assert limits.usage_limits.to_json() == {
        "credit_limit": 12.5, "token_limit": 5000, "periodic_reset": "monthly", "alert_threshold": 10,
    }
    with pytest.raises(AttributeError):
        limits.rate_limits = ()  # type: ignore[misc]


def test_absent_fields_mean_no_limits():
    limits = parse_limits(None, None)
    assert limits.is_empty
    assert parse_limits(None, {"alert_threshold": 5}).usage_limits.is_budget is False


@pytest.mark.parametrize(
    ("rate_limits", "usage_limits", "field"),
    [
        ({"type": "requests"}, None, "rate_limits"),
        (["rpm"], None, "rate_limits[0]"),
        ([{"type": "calls", "unit": "rpm", "value": 1}], None, "rate_limits[0].type"),
        ([{"type": "requests", "unit": "rps", "value": 1}], None, "rate_limits[0].unit"),
        ([{"type": "requests", "unit": "rpm", "value": 0}], None, "rate_limits[0].value"),
        ([{"type": "requests", "unit": "rpm", "value": 2.5}], None, "rate_limits[0].value"),
        ([{"type": "requests", "unit": "rpm", "value": True}], None, "rate_limits[0].value"),
        ([{"type": "requests", "unit": "rpm"}], None, "rate_limits[0].value"),
        ([{"type": "requests", "unit": "rpm", "value": 1, "burst": 2}], None, "rate_limits[0].burst"),
        ([{"type": "tokens", "unit": "rpm", "value": 1}, {"type": "tokens", "unit": "rpm", "value": 2}], None, "rate_limits[1]"),
        (None, [], "usage_limits"),
        (None, {"credit_limit": -1}, "usage_limits.credit_limit"),
        (None, {"credit_limit": "lots"}, "usage_limits.credit_limit"),
        (None, {"credit_limit": "NaN"}, "usage_limits.credit_limit"),
        (None, {"credit_limit": 10_000_000}, "usage_limits.credit_limit"),
        (None, {"credit_limit": 5, "alert_threshold": 6}, "usage_limits.alert_threshold"),
        (None, {"periodic_reset": "daily"}, "usage_limits.periodic_reset"),
        (None, {"token_limit": "many"}, "usage_limits.token_limit"),
        (None, {"credit": 5}, "usage_limits.credit"),
    ],
)
def test_errors_name_the_field(rate_limits, usage_limits, field):
    with pytest.raises(LimitsError) as caught:
        parse_limits(rate_limits, usage_limits)
    assert caught.value.field == field
    assert str(caught.value).startswith(field + ": ")


def test_rate_windows_are_aligned_to_the_utc_clock():
    now = at("2026-11-29 16:47:31.5")
    minute = rate_window("rpm", now)
    assert (minute.start, minute.end) == (at("2026-11-29 16:47:00"), at("2026-11-29 16:48:00"))
    hour = rate_window("rph", now)
    assert (hour.start, hour.end) == (at("2026-11-29 16:00:00"), at("2026-11-29 17:00:00"))
    day = rate_window("rpd", now)
    assert (day.start, day.end) == (at("2026-11-29 00:00:00"), at("2026-11-30 00:00:00"))
    assert rate_window("rpm", at("2026-11-29 16:47:59.999")).label == minute.label
    assert rate_window("rpm", at("2026-11-29 16:48:00")).label != minute.label


def test_budget_periods_reset_on_the_first_of_the_month_and_on_mondays_utc():
    december = budget_period("monthly", at("2026-12-31 23:59:59"))
    assert (december.start, december.end) == (at("2026-12-01 00:00:00"), at("2027-01-01 00:00:00"))
    assert budget_period("monthly", at("2027-01-01 00:00:00")).label == "m2027-01"
    # 2026-11-29 is a Sunday: its week began on Monday the 23rd.
    week = budget_period("weekly", at("2026-11-29 23:00:00"))
    assert (week.start, week.end) == (at("2026-11-23 00:00:00"), at("2026-11-30 00:00:00"))
    assert budget_period("weekly", at("2026-11-30 00:00:00")).label == "w2026-11-30"
    assert budget_period(None, at("2026-11-29 00:00:00")).end is None
    assert utc_day(at("2026-11-29 23:59:59")) == "2026-11-29"
