"""What a parser produces: a document made of titled sections of plain text."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Section:
    """A run of text under one heading (empty heading: text before the first heading)."""

    heading: str
    text: str


@dataclass
class ParsedDocument:
    """Plain text of one page or file with its structure, before chunking."""

    title: str
    sections: list[Section] = field(default_factory=list)
    language: str = ""
    canonical_url: str | None = None
    links: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """All section text, in order."""
        return "\n\n".join(part for s in self.sections for part in (s.heading, s.text) if part)

    def is_empty(self) -> bool:
        """True when there is no text worth indexing."""
        return not self.text.strip()


def document_from_json(data: dict[str, Any]) -> ParsedDocument:
    """A document from its JSON object (the dataclass as orjson writes it, e.g. a page worker's answer)."""
    fields = {name: value for name, value in data.items() if name != "sections"}
    return ParsedDocument(sections=[Section(**section) for section in data["sections"]], **fields)


class DocumentRefused(Exception):
    """A document (file or page) that cannot be ingested; ``reason`` says why, for a person."""

    def __init__(self, reason: str, *, failure_type: str = "invalid") -> None:
        super().__init__(reason)
        self.reason = reason
        self.failure_type = failure_type


class ParserStopped(DocumentRefused):
    """The parser process of a file was stopped (memory, CPU or time limit) or crashed.

    Unlike other refusals this may not be the file's fault (a busy machine), so it counts as one attempt.
    """
