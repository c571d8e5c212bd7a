"""Chunking by headings and paragraphs with overlap, and stable chunk ids."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from ingestion_service.domain.documents import Section

DEFAULT_CHUNK_CHARS = 1200
DEFAULT_OVERLAP_CHARS = 200
MAX_LABEL_CHARS = 300
"""Longest title or section heading one chunk carries. Every chunk holds its own copies (and the index a
localized copy of each), so an unbounded one makes a document's index writes grow with the square of its
size; a "heading" longer than this is text, and is indexed as such (see ``chunk_sections``)."""

_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Chunk:
    """One retrievable piece of a document."""

    position: int
    section: str
    body: str


def chunk_id(account_id: str, source_id: str, document_id: str, position: int) -> str:
    """A stable id: the same document position always lands on the same index document."""
    raw = "\x1f".join((account_id, source_id, document_id, str(position)))
    return hashlib.sha256(raw.encode()).hexdigest()[:40]


def document_id_for(key: str) -> str:
    """A stable document id from a natural key (canonical URL, file name, article id)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def content_hash(text: str) -> str:
    """Hash of normalised text, used to skip unchanged and duplicate content."""
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode()).hexdigest()


def label_limit(max_chars: int) -> int:
    """Most characters of a chunk's title, and of its heading, in chunks of ``max_chars``: a quarter each at
    most, so the body keeps at least half of the chunk."""
    return max(1, min(MAX_LABEL_CHARS, max_chars // 4))


def bounded_label(text: str, max_chars: int = MAX_LABEL_CHARS) -> str:
    """``text`` if it fits in ``max_chars``, else cut at a word boundary and ended with an ellipsis."""
    if len(text) <= max_chars:
        return text
    cut = text.rfind(" ", 0, max_chars)
    cut = cut if cut > max_chars // 2 else max_chars - 1
    return text[:cut].rstrip() + "…"


def _split_long(paragraph: str, max_chars: int) -> list[str]:
    """Split a paragraph longer than ``max_chars`` at sentence ends, then hard at spaces."""
    if len(paragraph) <= max_chars:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        while len(sentence) > max_chars:
            cut = sentence.rfind(" ", 0, max_chars)
            cut = cut if cut > max_chars // 2 else max_chars
            if current:
                pieces.append(current)
                current = ""
            pieces.append(sentence[:cut].strip())
            sentence = sentence[cut:].strip()
        if current and len(current) + 1 + len(sentence) > max_chars:
            pieces.append(current)
            current = sentence
        else:
            current = f"{current} {sentence}".strip()
    if current:
        pieces.append(current)
    return [p for p in pieces if p]


def _tail(text: str, overlap_chars: int) -> str:
    """The last ``overlap_chars`` of ``text``, starting at a word boundary."""
    if overlap_chars <= 0 or not text:
        return ""
    if len(text) <= overlap_chars:
        return text
    tail = text[-overlap_chars:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def chunk_sections(
    sections: list[Section],
    *,
    max_chars: int = DEFAULT_CHUNK_CHARS,
    overlap_chars: int = DEFAULT_OVERLAP_CHARS,
    title_chars: int = 0,
) -> list[Chunk]:
    """Pack each section's paragraphs into chunks of at most ~``max_chars``, headings and title included.

    A chunk never spans two sections; consecutive chunks of one section share
    about ``overlap_chars`` of text so a sentence cut at a boundary is still found.
    Each chunk carries its section's heading, bounded by ``label_limit``: a longer one is cut for the
    chunks and its whole text becomes the section's first paragraph. ``title_chars`` (the document
    title every chunk carries, already bounded) and the heading are taken from the body's budget.
    """
    chunks: list[Chunk] = []
    for section in sections:
        heading = bounded_label(section.heading, label_limit(max_chars))
        text = section.text if heading == section.heading else f"{section.heading}\n\n{section.text}"
        budget = max(max_chars - title_chars - len(heading), max_chars // 4, 1)
        overlap = min(overlap_chars, budget // 2)
        paragraphs: list[str] = []
        for raw in _PARAGRAPH_BREAK.split(text):
            paragraph = " ".join(raw.split())
            if paragraph:
                paragraphs.extend(_split_long(paragraph, budget))
        if not paragraphs:
            if heading.strip():
                chunks.append(Chunk(len(chunks), heading, heading))
            continue
        current = ""
        fresh = False  # whether current holds text not yet emitted
        for paragraph in paragraphs:
            if current and len(current) + 2 + len(paragraph) > budget and fresh:
                chunks.append(Chunk(len(chunks), heading, current))
                current = _tail(current, overlap)
                fresh = False
            current = f"{current}\n\n{paragraph}" if current else paragraph
            fresh = True
        if fresh:
            chunks.append(Chunk(len(chunks), heading, current))
    return chunks
