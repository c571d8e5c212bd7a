"""Rules of content sources: citations, status folding, URL checks."""

from __future__ import annotations

from urllib.parse import urlsplit

from customer_agent_shared.events.sources import SourceState

from admin_api.domain.errors import InvalidRequest


def citations_allowed(*, requested: bool, private: bool) -> bool:
    """Private content is never cited, whatever was requested."""
    return requested and not private


def is_newer_status(stored_sequence: int | None, incoming_sequence: int) -> bool:
    """Apply a status report only if it is newer than the last one applied (equal is a replay)."""
    return stored_sequence is None or incoming_sequence > stored_sequence


def check_source_url(url: str) -> str:
    """An absolute http(s) URL with a host, trimmed; anything else is refused."""
    cleaned = url.strip()
    parts = urlsplit(cleaned)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"{url!r} is not a web address; give an absolute http:// or https:// URL.")
    return cleaned


def source_progress(*, state: str, discovered: int | None, fetched: int | None) -> float | None:
    """Share of discovered items processed, 0..1: a ready source is done, one with nothing discovered unknown."""
    if state == SourceState.READY.value:
        return 1.0
    if discovered:
        return round(min(1.0, (fetched or 0) / discovered), 4)
    return None
