"""Day partitions of the inbox (``processed_events``): names, bounds and DDL, shared by migrations and
the maintenance task. Days are UTC days; a partition of day D holds ``[D 00:00, D+1 00:00)``."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

INBOX_TABLE = "processed_events"
DEFAULT_PARTITION = f"{INBOX_TABLE}_default"
DAYS_AHEAD = 3
"""Day partitions kept ready beyond today, so a few failed maintenance runs never leave a day without one
(its claims would then go to the default partition, which maintenance trims by DELETE instead)."""

_DAY_SUFFIX = re.compile(r"_p(\d{8})$")


def quoted(name: str) -> str:
    """A PostgreSQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def partition_name(day: date, table: str = INBOX_TABLE) -> str:
    """The name of ``table``'s partition of ``day``."""
    return f"{table}_p{day:%Y%m%d}"


def partition_day(name: str, table: str = INBOX_TABLE) -> date | None:
    """The day a partition holds, from its name; None for the default partition or another table."""
    match = _DAY_SUFFIX.search(name)
    if match is None or not name.startswith(f"{table}_p"):
        return None
    return datetime.strptime(match.group(1), "%Y%m%d").replace(tzinfo=UTC).date()


def day_start(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime.combine(day, time(0, tzinfo=UTC))


def create_partition_sql(schema: str, day: date, table: str = INBOX_TABLE) -> str:
    """DDL creating ``table``'s partition of ``day``."""
    lower, upper = day_start(day), day_start(day + timedelta(days=1))
    return (
        f"CREATE TABLE IF NOT EXISTS {quoted(schema)}.{quoted(partition_name(day, table))} "
        f"PARTITION OF {quoted(schema)}.{quoted(table)} "
        f"FOR VALUES FROM ('{lower.isoformat()}') TO ('{upper.isoformat()}')"
    )


def days_to_prepare(today: date, ahead: int = DAYS_AHEAD) -> list[date]:
    """Today and the next ``ahead`` days: the partitions that must exist."""
    return [today + timedelta(days=offset) for offset in range(ahead + 1)]


def retention_cutoff(now: datetime, retention_days: int) -> datetime:
    """Claims before this instant are past the retention."""
    return now - timedelta(days=retention_days)


def expired_partitions(names: Iterable[str], *, now: datetime, retention_days: int) -> list[str]:
    """The day partitions whose every possible row is past the retention (their day ended before the cutoff)."""
    cutoff = retention_cutoff(now, retention_days)
    expired = []
    for name in names:
        day = partition_day(name)
        if day is not None and day_start(day + timedelta(days=1)) <= cutoff:
            expired.append(name)
    return sorted(expired)
