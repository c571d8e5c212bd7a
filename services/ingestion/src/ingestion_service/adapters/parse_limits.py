"""Bounds of parsing one uploaded file, the budget its parsed text is spent from, and how near a parser
process came to its memory limit."""

from __future__ import annotations

import contextlib
import resource
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ingestion_service.domain.documents import DocumentRefused

MIB = 1024 * 1024


@dataclass(frozen=True)
class FileLimits:
    """Bounds applied while parsing uploaded files (sent to the parser process as they are)."""

    max_file_bytes: int = 25_000_000
    max_unzipped_bytes: int = 100_000_000
    max_zip_ratio: float = 100.0
    max_zip_members: int = 2000
    max_text_ratio: float = 20.0
    max_text_chars: int = 25_000_000
    parse_memory_bytes: int = 256 * MIB
    parse_cpu_seconds: int = 15
    parse_timeout_seconds: float = 20.0

    def to_json(self) -> dict[str, Any]:
        """The limits as a JSON object."""
        return asdict(self)


class TextBudget:
    """Characters a file's parsed text may use: at most ``max_text_ratio`` times its size and at most
    ``max_text_chars``; parsers spend from it as their output grows, so a file that amplifies is refused
    before its text exists."""

    def __init__(self, filename: str, size: int, limits: FileLimits) -> None:
        self.filename = filename
        by_ratio = int(size * limits.max_text_ratio)
        self.allowed = min(by_ratio, limits.max_text_chars)
        self.used = 0
        if by_ratio <= limits.max_text_chars:
            self._bound = f"{limits.max_text_ratio:g} times its size of {size:,} bytes"
        else:
            self._bound = f"the limit of {limits.max_text_chars:,} characters"

    def spend(self, text: str) -> None:
        """Count ``text`` as output; refuse the file once the output passes the budget."""
        self.used += len(text)
        if self.used > self.allowed:
            raise DocumentRefused(
                f"{self.filename!r} was refused: its text grows past {self.allowed:,} characters "
                f"({self._bound}) while it is parsed",
                failure_type="amplification",
            )


def reached_memory_limit() -> bool:
    """Whether this process's address space ever came within 5 % of its limit."""
    limit, _ = resource.getrlimit(resource.RLIMIT_AS)
    return limit != resource.RLIM_INFINITY and near_limit("self", limit)


def near_limit(pid: int | str, limit: int) -> bool:
    """Whether a process's peak address space (VmPeak, from /proc) came within 5 % of ``limit`` bytes."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024 >= limit * 0.95
    return False
