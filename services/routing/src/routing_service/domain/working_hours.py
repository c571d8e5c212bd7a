"""Working hours, evaluated in the person's (or team's) own IANA time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from customer_agent_shared.events.config import WorkingHours

MINUTES_PER_DAY = 24 * 60


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return min(MINUTES_PER_DAY, int(hours) * 60 + int(minutes))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")  # an unknown zone is read as UTC rather than dropping the person


def is_within_hours(hours: WorkingHours, at: datetime) -> bool:
    """True when ``at`` falls in one of the weekly intervals (none configured = always)."""
    if not hours.intervals:
        return True
    local = at.astimezone(_zone(hours.timezone))
    day = local.weekday()
    minute = local.hour * 60 + local.minute
    previous_day = (day - 1) % 7
    for interval in hours.intervals:
        start, end = _minutes(interval.start), _minutes(interval.end)
        if start < end:
            if interval.day == day and start <= minute < end:
                return True
        elif start > end:  # crosses midnight: [start, 24:00) on its day, [00:00, end) on the next
            if interval.day == day and minute >= start:
                return True
            if interval.day == previous_day and minute < end:
                return True
    return False
