"""Reset dates in the account's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from billing_service.domain.periods import UnknownTimeZoneError, period_containing


@pytest.mark.parametrize(
    ("now", "reset_day", "zone", "start", "end"),
    [
        # UTC, mid-month
        (datetime(2026, 11, 21, 12, tzinfo=UTC), 1, "UTC", "2026-11-01T00:00:00+00:00", "2026-12-01T00:00:00+00:00"),
        # exactly at the reset instant: the new period has begun
        (datetime(2026, 12, 1, tzinfo=UTC), 1, "UTC", "2026-12-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"),
        # before this month's reset day: period started last month
        (datetime(2026, 11, 10, tzinfo=UTC), 15, "UTC", "2026-10-15T00:00:00+00:00", "2026-11-15T00:00:00+00:00"),
        # year boundary backwards
        (datetime(2026, 1, 3, tzinfo=UTC), 5, "UTC", "2025-12-05T00:00:00+00:00", "2026-01-05T00:00:00+00:00"),
        # Copenhagen: local midnight is 23:00 UTC the day before (winter)
        (
            datetime(2026, 11, 30, 23, 30, tzinfo=UTC),
            1,
            "Europe/Copenhagen",
            "2026-12-01T00:00:00+01:00",
            "2027-01-01T00:00:00+01:00",
        ),
        (
            datetime(2026, 11, 30, 22, 30, tzinfo=UTC),
            1,
            "Europe/Copenhagen",
            "2026-11-01T00:00:00+01:00",
            "2026-12-01T00:00:00+01:00",
        ),
        # across a DST change (summer start, winter end)
        (
            datetime(2026, 3, 31, 21, 30, tzinfo=UTC),
            1,
            "Europe/Copenhagen",
            "2026-03-01T00:00:00+01:00",
            "2026-04-01T00:00:00+02:00",
        ),
        # a zone behind UTC: still the previous local day in UTC terms
        (
            datetime(2026, 3, 1, 3, tzinfo=UTC),
            1,
            "America/New_York",
            "2026-02-01T00:00:00-05:00",
            "2026-03-01T00:00:00-05:00",
        ),
    ],
)
def test_period_containing(now: datetime, reset_day: int, zone: str, start: str, end: str) -> None:
    period = period_containing(now, reset_day, zone)
    assert period.start.isoformat() == start
    assert period.end.isoformat() == end
    assert period.start <= now < period.end


def test_unknown_zone_is_refused() -> None:
    with pytest.raises(UnknownTimeZoneError, match="Mars/Olympus"):
        period_containing(datetime(2026, 1, 1, tzinfo=UTC), 1, "Mars/Olympus")


@pytest.mark.parametrize("reset_day", [0, 29])
def test_reset_day_out_of_range_is_refused(reset_day: int) -> None:
    with pytest.raises(ValueError, match="reset_day"):
        period_containing(datetime(2026, 1, 1, tzinfo=UTC), reset_day, "UTC")


def test_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        period_containing(datetime(2026, 1, 1), 1, "UTC")
