"""Periods are read in the plan's time zone; impossible labels are refused with the accepted forms."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from kpi_engine import PeriodError, parse_period


@pytest.mark.parametrize(
    ("label", "start", "end", "grain"),
    [
        ("2026-10", date(2026, 10, 1), date(2026, 11, 1), "month"),
        ("2026-12", date(2026, 12, 1), date(2027, 1, 1), "month"),
        ("2026-Q3", date(2026, 7, 1), date(2026, 10, 1), "quarter"),
        ("2026-Q4", date(2026, 10, 1), date(2027, 1, 1), "quarter"),
        ("2026", date(2026, 1, 1), date(2027, 1, 1), "year"),
        ("2026-W05", date(2026, 1, 26), date(2026, 2, 2), "week"),
        ("2026-01-01..2026-03-15", date(2026, 1, 1), date(2026, 3, 16), "range"),
    ],
)
def test_period_labels_cover_their_calendar_days(label, start, end, grain):
    period = parse_period(label)
    assert (period.start, period.end, period.grain) == (start, end, grain)


@pytest.mark.parametrize(
    "label", ["2026-13", "2026-Q5", "last month", "2026-03-15..2026-01-01", "2026-02-30..2026-03-01", ""]
)
def test_impossible_periods_are_refused_with_the_accepted_forms(label):
    with pytest.raises(PeriodError) as err:
        parse_period(label)
    assert "2026-Q3" in err.value.hint


def test_a_shanghai_month_starts_at_16_utc_the_day_before():
    start, end = parse_period("2026-03").bounds_utc("Asia/Shanghai")
    assert start == datetime(2026, 2, 28, 16, 0, tzinfo=UTC)
    assert end == datetime(2026, 3, 31, 16, 0, tzinfo=UTC)


def test_a_deal_at_2330_on_31_march_in_shanghai_belongs_to_march():
    closed = datetime(2026, 3, 31, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai
    march_start, march_end = parse_period("2026-03").bounds_utc("Asia/Shanghai")
    assert march_start <= closed < march_end
    utc_start, utc_end = parse_period("2026-03").bounds_utc("UTC")
    assert utc_start <= closed < utc_end  # same instant, March in UTC too
    assert not (parse_period("2026-04").bounds_utc("Asia/Shanghai")[0] <= closed)


def test_previous_period_keeps_the_grain():
    assert parse_period("2026-01").previous().label == "2025-12"
    assert parse_period("2026-Q1").previous().label == "2025-Q4"
    assert parse_period("2026").previous().label == "2025"


def test_unknown_time_zone_is_refused():
    with pytest.raises(PeriodError, match="not a time zone"):
        parse_period("2026-10").bounds_utc("Mars/Olympus")
