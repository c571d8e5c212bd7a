"""Billing periods: the monthly reset date in an account's IANA time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class UnknownTimeZoneError(ValueError):
    """The plan names a time zone the IANA database does not know."""


@dataclass(frozen=True)
class Period:
    """One billing period: ``start`` inclusive, ``end`` (the next reset) exclusive, both aware."""

    start: datetime
    end: datetime


def time_zone(name: str) -> ZoneInfo:
    """The IANA zone called ``name``; raise ``UnknownTimeZoneError`` for an unknown name."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise UnknownTimeZoneError(f"unknown IANA time zone {name!r}") from error


def _reset_instant(year: int, month: int, day: int, zone: ZoneInfo) -> datetime:
    return datetime(year, month, day, tzinfo=zone)


def _next_month(year: int, month: int) -> tuple[int, int]:
    return (year + 1, 1) if month == 12 else (year, month + 1)


def _previous_month(year: int, month: int) -> tuple[int, int]:
    return (year - 1, 12) if month == 1 else (year, month - 1)


def period_containing(now: datetime, reset_day: int, zone_name: str) -> Period:
    """The period containing ``now``: it starts at local midnight of ``reset_day`` in the zone."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not 1 <= reset_day <= 28:
        raise ValueError("reset_day must be between 1 and 28")
    zone = time_zone(zone_name)
    local = now.astimezone(zone)
    start = _reset_instant(local.year, local.month, reset_day, zone)
    if start > now:
        start = _reset_instant(*_previous_month(local.year, local.month), reset_day, zone)
    end = _reset_instant(*_next_month(start.year, start.month), reset_day, zone)
    return Period(start=start, end=end)
