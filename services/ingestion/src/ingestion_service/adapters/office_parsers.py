"""Parsers of the XML family: generic XML, Word (.docx) and PowerPoint (.pptx).

XML goes through defusedxml (entity declarations and external references are
refused); docx/pptx are checked against zip bombs before any member is read,
members are read with their inflated size bounded, and the Word body is
streamed block by block so neither its tree nor its text outgrows the limits.
"""

from __future__ import annotations

import contextlib
import io
import re
import zipfile
import zlib
from collections.abc import Iterator
from typing import IO
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_et  # type: ignore[import-untyped]
from defusedxml import DefusedXmlException

from ingestion_service.adapters.parse_limits import FileLimits, TextBudget
from ingestion_service.adapters.text_parsers import sections_from_lines
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, Section

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"
XML_HEADINGS = frozenset({"title", "heading", "h1", "h2", "h3", "name", "question"})


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _entities_refused(filename: str, error: Exception) -> DocumentRefused:
    return DocumentRefused(
        f"{filename!r} was refused: XML entity declarations and external references are not allowed ({error})",
        failure_type="xml_entities",
    )


def _not_well_formed(filename: str, error: Exception) -> DocumentRefused:
    return DocumentRefused(f"{filename!r} is not well-formed XML: {error}", failure_type="invalid_xml")


def safe_xml(content: bytes | str, filename: str) -> Element:
    """Parse XML refusing DTD entities and external references (XXE, billion laughs)."""
    try:
        root: Element = safe_et.fromstring(content, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise _entities_refused(filename, error) from error
    except safe_et.ParseError as error:
        raise _not_well_formed(filename, error) from error
    return root


def parse_xml(content: bytes, filename: str, budget: TextBudget) -> list[Section]:
    """Generic XML: text of leaf elements as 'element: text'; elements named title/heading start sections."""
    root = safe_xml(content, filename)
    lines: list[tuple[str | None, str]] = []
    for element in root.iter():
        name = _local(str(element.tag)).lower()
        text = (element.text or "").strip()
        if not text:
            continue
        budget.spend(text)
        lines.append((text, "") if name in XML_HEADINGS else (None, text))
    return sections_from_lines(lines)


# ---------------------------------------------------------------- Office Open XML packages


def _zip_bomb(filename: str, detail: str) -> DocumentRefused:
    return DocumentRefused(f"{filename!r} was refused as a possible zip bomb: {detail}", failure_type="zip_bomb")


def check_zip(archive: zipfile.ZipFile, filename: str, limits: FileLimits) -> None:
    """Refuse zip bombs before reading members: member count, total size and per-member ratio."""
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise _zip_bomb(filename, f"{len(members)} members (limit {limits.max_zip_members})")
    total = sum(member.file_size for member in members)
    if total > limits.max_unzipped_bytes:
        raise _zip_bomb(filename, f"{total} bytes uncompressed (limit {limits.max_unzipped_bytes})")
    for member in members:
        if member.file_size > 1_000_000 and member.file_size > limits.max_zip_ratio * max(member.compress_size, 1):
            ratio = member.file_size / max(member.compress_size, 1)
            raise _zip_bomb(filename, f"{member.filename} expands {ratio:.0f}x (limit {limits.max_zip_ratio:.0f}x)")


class BoundedMember:
    """A zip member read as a stream that refuses to inflate past the limit (declared sizes can lie)."""

    def __init__(self, stream: IO[bytes], *, name: str, filename: str, limit: int) -> None:
        self._stream = stream
        self._name = name
        self._filename = filename
        self._remaining = limit

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes; ``DocumentRefused`` once the member inflates past the limit."""
        wanted = self._remaining + 1 if size is None or size < 0 else min(size, self._remaining + 1)
        data = self._stream.read(wanted)
        self._remaining -= len(data)
        if self._remaining < 0:
            raise _zip_bomb(self._filename, f"{self._name} inflates too far")
        return data


def read_member(archive: zipfile.ZipFile, name: str, filename: str, limits: FileLimits) -> bytes:
    """Read one member whole, stopping if it inflates past the declared limits."""
    with archive.open(name) as stream:
        return BoundedMember(stream, name=name, filename=filename, limit=limits.max_unzipped_bytes).read()


@contextlib.contextmanager
def _open_zip(content: bytes, filename: str, limits: FileLimits) -> Iterator[zipfile.ZipFile]:
    """The package, checked against zip bombs; a member that turns out damaged as it is read refuses the file."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise DocumentRefused(
            f"{filename!r} is not a valid Office file: {error}", failure_type="invalid_zip"
        ) from error
    with archive:
        check_zip(archive, filename, limits)
        try:
            yield archive
        # A bad CRC (BadZipFile), a damaged deflate stream (zlib.error) or one cut short (EOFError): the same bytes
        # fail the same way on every attempt, so the file is refused now rather than retried as a parser crash.
        except (zipfile.BadZipFile, zlib.error, EOFError) as error:
            raise DocumentRefused(
                f"{filename!r} is a corrupt Office file: {error}", failure_type="corrupt_zip"
            ) from error


def _docx_text(element: Element) -> str:
    parts: list[str] = []
    for node in element.iter():
        tag = str(node.tag)
        if tag == f"{W}t" and node.text:
            parts.append(node.text)
        elif tag == f"{W}tab":
            parts.append("\t")
        elif tag in (f"{W}br", f"{W}cr"):
            parts.append("\n")
    return "".join(parts).strip()


def _body_blocks(stream: BoundedMember, filename: str) -> Iterator[Element]:
    """The children of the Word body one at a time, each dropped from the tree once handled."""
    depth = 0
    body: Element | None = None
    try:
        for event, element in safe_et.iterparse(
            stream, events=("start", "end"), forbid_dtd=False, forbid_entities=True, forbid_external=True
        ):
            if event == "start":
                depth += 1
                if depth == 2 and element.tag == f"{W}body":
                    body = element
                continue
            depth -= 1
            if element is body:
                body = None
            elif depth == 2 and body is not None:
                yield element
                body.remove(element)
    except DefusedXmlException as error:
        raise _entities_refused(filename, error) from error
    except safe_et.ParseError as error:
        raise _not_well_formed(filename, error) from error


def _docx_block(block: Element, lines: list[tuple[str | None, str]]) -> str:
    """Append the lines of one body block (paragraph or table); return its text when it is a heading."""
    tag = str(block.tag)
    if tag == f"{W}p":
        style = block.find(f"{W}pPr/{W}pStyle")
        style_name = (style.get(f"{W}val") or "") if style is not None else ""
        text = _docx_text(block)
        if text and style_name.lower().startswith(("heading", "title")):
            lines.append((text, ""))
            return text
        if text:
            lines.append((None, text + "\n"))
    elif tag == f"{W}tbl":
        for row in block.iter(f"{W}tr"):
            cells = [_docx_text(cell) for cell in row.iter(f"{W}tc")]
            if any(cells):
                lines.append((None, " | ".join(cells)))
        lines.append((None, ""))
    return ""


def parse_docx(content: bytes, filename: str, limits: FileLimits, budget: TextBudget) -> ParsedDocument:
    """Paragraphs styled Heading*/Title start sections; table rows become 'a | b | c' lines."""
    lines: list[tuple[str | None, str]] = []
    title = ""
    with _open_zip(content, filename, limits) as archive:
        if "word/document.xml" not in archive.namelist():
            raise DocumentRefused(
                f"{filename!r} is not a Word document (no word/document.xml)", failure_type="invalid_zip"
            )
        with archive.open("word/document.xml") as member:
            stream = BoundedMember(member, name="word/document.xml", filename=filename, limit=limits.max_unzipped_bytes)
            for block in _body_blocks(stream, filename):
                before = len(lines)
                heading = _docx_block(block, lines)
                title = title or heading
                for _heading, text in lines[before:]:
                    budget.spend(_heading or text)
                block.clear()
    return ParsedDocument(title=title, sections=sections_from_lines(lines))


def _slide_section(root: Element, number: int, budget: TextBudget) -> Section:
    heading = ""
    paragraphs: list[str] = []
    for shape in root.iter():
        if _local(str(shape.tag)) != "sp":
            continue
        placeholder = next((n for n in shape.iter() if _local(str(n.tag)) == "ph"), None)
        is_title = placeholder is not None and (placeholder.get("type") or "") in ("title", "ctrTitle")
        texts = ["".join(t.text or "" for t in p.iter(f"{A}t")).strip() for p in shape.iter(f"{A}p")]
        texts = [t for t in texts if t]
        for text in texts:
            budget.spend(text)
        if is_title and texts and not heading:
            heading = " ".join(texts)
        else:
            paragraphs.extend(texts)
    for table in root.iter(f"{A}tbl"):
        for row in table.iter(f"{A}tr"):
            cells = [" ".join(t.text or "" for t in cell.iter(f"{A}t")).strip() for cell in row.iter(f"{A}tc")]
            if any(cells):
                paragraphs.append(" | ".join(cells))
                budget.spend(paragraphs[-1])
    if not heading and paragraphs:
        heading = paragraphs.pop(0)
    return Section(heading or f"Slide {number}", "\n\n".join(paragraphs))


def parse_pptx(content: bytes, filename: str, limits: FileLimits, budget: TextBudget) -> ParsedDocument:
    """Each slide is a section headed by its title shape (or first line); tables become rows."""
    sections: list[Section] = []
    with _open_zip(content, filename, limits) as archive:
        names = archive.namelist()
        slides = sorted(
            (n for n in names if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)),
            key=lambda n: int(re.findall(r"\d+", n)[-1]),
        )
        if "ppt/presentation.xml" not in names and not slides:
            raise DocumentRefused(f"{filename!r} is not a PowerPoint file (no slides)", failure_type="invalid_zip")
        for number, name in enumerate(slides, start=1):
            root = safe_xml(read_member(archive, name, filename, limits), filename)
            sections.append(_slide_section(root, number, budget))
    title = sections[0].heading if sections else ""
    return ParsedDocument(title=title, sections=[s for s in sections if s.heading or s.text])
