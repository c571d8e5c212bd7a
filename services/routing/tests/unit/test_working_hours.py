"""Working hours are evaluated in the person's own IANA time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.config import WorkingHours, WorkingInterval
from routing_service.domain.working_hours import is_within_hours

# 2026-11-23 is a Monday.
MONDAY_0830_UTC = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)


def hours(timezone: str, *intervals: tuple[int, str, str]) -> WorkingHours:
    return WorkingHours(timezone=timezone, intervals=[WorkingInterval(day=d, start=s, end=e) for d, s, e in intervals])


@pytest.mark.parametrize(
    ("working_hours", "at", "expected"),
    [
        (hours("UTC"), MONDAY_0830_UTC, True),  # no intervals: always
        (hours("UTC", (0, "08:00", "16:00")), MONDAY_0830_UTC, True),
        (hours("UTC", (0, "09:00", "16:00")), MONDAY_0830_UTC, False),
        (hours("UTC", (1, "08:00", "16:00")), MONDAY_0830_UTC, False),  # Tuesday only
        (hours("UTC", (0, "08:00", "08:30")), MONDAY_0830_UTC, False),  # end is exclusive
        (hours("UTC", (0, "08:30", "08:31")), MONDAY_0830_UTC, True),  # start is inclusive
        # 08:30 UTC is 09:30 in Copenhagen (CET) and 03:30 in New York (EST).
        (hours("Europe/Copenhagen", (0, "09:00", "17:00")), MONDAY_0830_UTC, True),
        (hours("America/New_York", (0, "09:00", "17:00")), MONDAY_0830_UTC, False),
        # 08:30 UTC Monday is 19:30 Monday in Sydney (AEDT).
        (hours("Australia/Sydney", (0, "09:00", "17:00")), MONDAY_0830_UTC, False),
        (hours("Australia/Sydney", (0, "18:00", "24:00")), MONDAY_0830_UTC, True),
        # A night shift starting Sunday 22:00 local crosses midnight into Monday.
        (hours("America/New_York", (6, "22:00", "06:00")), MONDAY_0830_UTC, True),
        (hours("America/New_York", (0, "22:00", "06:00")), MONDAY_0830_UTC, False),
        (hours("Not/AZone", (0, "08:00", "09:00")), MONDAY_0830_UTC, True),  # unknown zone read as UTC
    ],
)
def test_working_hours(working_hours: WorkingHours, at: datetime, expected: bool) -> None:
    assert is_within_hours(working_hours, at) is expected
