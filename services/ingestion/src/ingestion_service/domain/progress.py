"""Sync progress counters and when to report them (throttled for a progress bar), and when to report
how many of a source's chunks have their vector."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from customer_agent_shared.events.sources import PageFailure, SourceState

MAX_RECENT_FAILURES = 20


@dataclass
class SyncProgress:
    """Counters of one sync run."""

    discovered: int = 0
    fetched: int = 0
    indexed: int = 0
    unchanged: int = 0
    failed: int = 0
    recent_failures: list[PageFailure] = field(default_factory=list)

    def record_failure(self, url: str, *, error: str) -> None:
        """Count a page failure and keep the most recent few for the status."""
        self.failed += 1
        self.recent_failures.append(PageFailure(url=url, error=error[:500]))
        del self.recent_failures[:-MAX_RECENT_FAILURES]


@dataclass
class ReportThrottle:
    """Report at most every ``interval_seconds`` or every ``every_pages`` pages, whichever first."""

    interval_seconds: float = 1.0
    every_pages: int = 25
    _last_time: float = -1e18
    _last_pages: int = 0

    def due(self, now: float, pages_done: int) -> bool:
        """Whether a progress report should be sent now."""
        return now - self._last_time >= self.interval_seconds or pages_done - self._last_pages >= self.every_pages

    def mark(self, now: float, pages_done: int) -> None:
        """Remember that a report was just sent."""
        self._last_time = now
        self._last_pages = pages_done


class VectorsReport(StrEnum):
    """How a source's changed count of chunks with a vector reaches its status."""

    NOW = "now"
    LATER = "later"  # held back by the throttle: reported once due
    BY_SYNC = "by_sync"  # the running sync's own reports carry the stored count
    NONE = "none"  # the source is deleted


def vectors_report(state: str, *, complete: bool, due: bool) -> VectorsReport:
    """A syncing source reports through its sync; others now when due or when every chunk has its vector."""
    if state == SourceState.DELETED:
        return VectorsReport.NONE
    if state == SourceState.SYNCING:
        return VectorsReport.BY_SYNC
    return VectorsReport.NOW if complete or due else VectorsReport.LATER


@dataclass
class SourceThrottle:
    """At most one report every ``interval_seconds`` per source."""

    interval_seconds: float = 2.0
    _last: dict[tuple[str, str], float] = field(default_factory=dict)

    def due(self, key: tuple[str, str], now: float) -> bool:
        """Whether the source may report now."""
        last = self._last.get(key)
        return last is None or now - last >= self.interval_seconds

    def mark(self, key: tuple[str, str], now: float) -> None:
        """Remember a report (and forget the sources that may report again anyway)."""
        self._last = {other: at for other, at in self._last.items() if now - at < self.interval_seconds}
        self._last[key] = now
