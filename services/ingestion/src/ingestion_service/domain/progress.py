"""Sync progress counters and when to report them (throttled for a progress bar)."""

from __future__ import annotations

from dataclasses import dataclass, field

from customer_agent_shared.events.sources import PageFailure

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

    def record_failure(self, url: str, error: str) -> None:
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
