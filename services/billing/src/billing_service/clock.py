"""Where billing reads the time: a dependency, so tests can move it past a reset date."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def system_clock() -> datetime:
    """The wall clock in UTC."""
    return datetime.now(UTC)
