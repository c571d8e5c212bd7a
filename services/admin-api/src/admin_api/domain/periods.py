"""Reporting periods of the insights endpoints: whole UTC days, bounded in length."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from admin_api.domain.errors import InvalidRequest

MAX_PERIOD_DAYS = 366
DEFAULT_PERIOD_DAYS = 30


@dataclass(frozen=True)
class ReportingPeriod:
    """From the first to the last day (inclusive), and the instants that bound it."""

    first: date
    last: date

    @property
    def start(self) -> datetime:
        """Midnight (UTC) that opens the first day."""
        return datetime.combine(self.first, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """Midnight (UTC) that closes the last day."""
        return datetime.combine(self.last, time.min, tzinfo=UTC) + timedelta(days=1)


def reporting_period(*, first: date | None, last: date | None, today: date) -> ReportingPeriod:
    """The period asked for: by default the 30 days up to today; at most a year, never reversed."""
    last = last or today
    first = first or last - timedelta(days=DEFAULT_PERIOD_DAYS - 1)
    if first > last:
        raise InvalidRequest("'from' must not be after 'to'.")
    if (last - first).days >= MAX_PERIOD_DAYS:
        raise InvalidRequest(f"The period may span at most {MAX_PERIOD_DAYS} days.")
    return ReportingPeriod(first, last)
