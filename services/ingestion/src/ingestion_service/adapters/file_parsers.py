"""Parsers of the 15 accepted file types into sections of text.

Text files are decoded with charset detection; XML goes through defusedxml
(entity declarations and external references are refused); docx/pptx are
checked against zip bombs before any member is parsed; PDFs are parsed in a
child process with CPU-time and address-space limits.
"""

from __future__ import annotations

import asyncio
import configparser
import contextlib
import csv
import io
import json
import re
import resource
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as safe_et  # type: ignore[import-untyped]
from charset_normalizer import from_bytes
from defusedxml import DefusedXmlException

from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.markdown_parser import parse_markdown
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, Section
from ingestion_service.domain.file_types import check_file


@dataclass(frozen=True)
class FileLimits:
    """Bounds applied while parsing uploaded files."""

    max_file_bytes: int = 25_000_000
    max_unzipped_bytes: int = 100_000_000
    max_zip_ratio: float = 100.0
    max_zip_members: int = 2000
    pdf_timeout_seconds: float = 30.0
    pdf_memory_bytes: int = 768 * 1024 * 1024


# ---------------------------------------------------------------- text decoding

WESTERN_ENCODINGS = ("cp1252", "iso8859_15", "latin_1")


def decode_text(content: bytes, filename: str) -> str:
    """Decode bytes of a text file, detecting the encoding (BOMs, UTF-8, legacy code pages)."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if content.startswith(bom):
            return content.decode(encoding, errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    matches = list(from_bytes(content[:200_000]))
    if not matches:
        raise DocumentRefused(f"{filename!r}: cannot detect the text encoding", failure_type="encoding")
    best = matches[0]
    # Single-byte code pages often tie; the supported languages are Western European, so prefer cp1252 then.
    for match in matches:
        if match.encoding in WESTERN_ENCODINGS and match.chaos <= best.chaos and match.coherence >= best.coherence:
            best = match
            break
    return content.decode(best.encoding, errors="replace")


# ---------------------------------------------------------------- plain-text formats

_RST_UNDERLINE = re.compile(r"^([=\-`:'\"~^_*+#<>])\1{2,}\s*$")


def _sections_from_lines(lines: list[tuple[str | None, str]]) -> list[Section]:
    """Group (heading-or-None, line) pairs into sections."""
    sections: list[Section] = []
    heading = ""
    body: list[str] = []
    for new_heading, line in lines:
        if new_heading is not None:
            if heading or "".join(body).strip():
                sections.append(Section(heading, "\n".join(body).strip()))
            heading, body = new_heading, []
        else:
            body.append(line)
    if heading or "".join(body).strip():
        sections.append(Section(heading, "\n".join(body).strip()))
    return sections


def parse_rst(text: str) -> list[Section]:
    """A line followed (and maybe preceded) by an underline of punctuation is a heading."""
    raw = text.splitlines()
    lines: list[tuple[str | None, str]] = []
    index = 0
    while index < len(raw):
        line = raw[index]
        following = raw[index + 1] if index + 1 < len(raw) else ""
        if (
            line.strip()
            and not _RST_UNDERLINE.match(line)
            and _RST_UNDERLINE.match(following)
            and len(following.strip()) >= len(line.strip())
        ):
            lines.append((line.strip(), ""))
            index += 2
            continue
        if _RST_UNDERLINE.match(line):
            index += 1
            continue
        lines.append((None, line))
        index += 1
    return _sections_from_lines(lines)


def parse_plain(text: str) -> list[Section]:
    """Plain text: one section, paragraphs kept."""
    return [Section("", text.strip())] if text.strip() else []


def parse_config(text: str) -> list[Section]:
    """INI-style cfg/conf: each [section] becomes a section of 'key = value' lines; otherwise plain text."""
    parser = configparser.ConfigParser(interpolation=None, strict=False, allow_no_value=True)
    try:
        parser.read_string(text)
    except configparser.Error:
        return parse_plain(text)
    sections = [
        Section(
            name, "\n".join(f"{key} = {value}" if value is not None else key for key, value in parser[name].items())
        )
        for name in parser.sections()
    ]
    defaults = parser.defaults()
    if defaults:
        sections.insert(0, Section("DEFAULT", "\n".join(f"{k} = {v}" for k, v in defaults.items())))
    return sections or parse_plain(text)


def parse_csv(text: str) -> list[Section]:
    """One line per row: 'header: value; header: value' so each row reads on its own."""
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t|")
    except csv.Error:
        dialect = csv.excel
    rows = [row for row in csv.reader(io.StringIO(text), dialect) if any(cell.strip() for cell in row)]
    if not rows:
        return []
    header, *data = rows
    if not data:
        return [Section("", " | ".join(header))]
    lines = [
        "; ".join(
            f"{name.strip() or f'column {i + 1}'}: {value.strip()}"
            for i, (name, value) in enumerate(zip(header, row, strict=False))
            if value.strip()
        )
        for row in data
    ]
    return [Section("", "\n\n".join(line for line in lines if line))]


def _flatten_json(value: Any, path: str, out: list[str], depth: int = 0) -> None:
    if depth > 50:
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten_json(item, f"{path}.{key}" if path else str(key), out, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _flatten_json(item, f"{path}[{index}]", out, depth + 1)
    elif value is not None and str(value).strip():
        out.append(f"{path}: {value}" if path else str(value))


def parse_json(text: str, filename: str) -> list[Section]:
    """Every leaf value as 'path.to.key: value'."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise DocumentRefused(f"{filename!r} is not valid JSON: {error}", failure_type="invalid_json") from error
    lines: list[str] = []
    _flatten_json(data, "", lines)
    return [Section("", "\n".join(lines))] if lines else []


# ---------------------------------------------------------------- XML family


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def safe_xml(content: bytes | str, filename: str) -> Element:
    """Parse XML refusing DTD entities and external references (XXE, billion laughs)."""
    try:
        root: Element = safe_et.fromstring(content, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as error:
        raise DocumentRefused(
            f"{filename!r} was refused: XML entity declarations and external references are not allowed ({error})",
            failure_type="xml_entities",
        ) from error
    except safe_et.ParseError as error:
        raise DocumentRefused(f"{filename!r} is not well-formed XML: {error}", failure_type="invalid_xml") from error
    return root


def parse_xml(content: bytes, filename: str) -> list[Section]:
    """Generic XML: text of leaf elements as 'element: text'; elements named title/heading start sections."""
    root = safe_xml(content, filename)
    lines: list[tuple[str | None, str]] = []
    for element in root.iter():
        name = _local(str(element.tag)).lower()
        text = (element.text or "").strip()
        if not text:
            continue
        if name in ("title", "heading", "h1", "h2", "h3", "name", "question"):
            lines.append((text, ""))
        else:
            lines.append((None, text))
    return _sections_from_lines(lines)


# ---------------------------------------------------------------- Office Open XML


def check_zip(archive: zipfile.ZipFile, filename: str, limits: FileLimits) -> None:
    """Refuse zip bombs before reading members: member count, total size and per-member ratio."""
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise DocumentRefused(
            f"{filename!r} was refused as a possible zip bomb: {len(members)} members (limit {limits.max_zip_members})",
            failure_type="zip_bomb",
        )
    total = sum(member.file_size for member in members)
    if total > limits.max_unzipped_bytes:
        raise DocumentRefused(
            f"{filename!r} was refused as a possible zip bomb: {total} bytes uncompressed "
            f"(limit {limits.max_unzipped_bytes})",
            failure_type="zip_bomb",
        )
    for member in members:
        if member.file_size > 1_000_000 and member.file_size > limits.max_zip_ratio * max(member.compress_size, 1):
            ratio = member.file_size / max(member.compress_size, 1)
            raise DocumentRefused(
                f"{filename!r} was refused as a possible zip bomb: {member.filename} expands {ratio:.0f}x "
                f"(limit {limits.max_zip_ratio:.0f}x)",
                failure_type="zip_bomb",
            )


def read_member(archive: zipfile.ZipFile, name: str, filename: str, limits: FileLimits) -> bytes:
    """Read one member, stopping if it inflates past the declared limits (sizes can lie)."""
    with archive.open(name) as stream:
        data = stream.read(limits.max_unzipped_bytes + 1)
    if len(data) > limits.max_unzipped_bytes:
        raise DocumentRefused(
            f"{filename!r} was refused as a possible zip bomb: {name} inflates too far", failure_type="zip_bomb"
        )
    return data


def _open_zip(content: bytes, filename: str, limits: FileLimits) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(content))
    except (zipfile.BadZipFile, zipfile.LargeZipFile) as error:
        raise DocumentRefused(
            f"{filename!r} is not a valid Office file: {error}", failure_type="invalid_zip"
        ) from error
    check_zip(archive, filename, limits)
    return archive


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
A = "{http://schemas.openxmlformats.org/drawingml/2006/main}"


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


def parse_docx(content: bytes, filename: str, limits: FileLimits) -> ParsedDocument:
    """Paragraphs styled Heading*/Title start sections; table rows become 'a | b | c' lines."""
    with _open_zip(content, filename, limits) as archive:
        if "word/document.xml" not in archive.namelist():
            raise DocumentRefused(
                f"{filename!r} is not a Word document (no word/document.xml)", failure_type="invalid_zip"
            )
        root = safe_xml(read_member(archive, "word/document.xml", filename, limits), filename)
    body = root.find(f"{W}body")
    lines: list[tuple[str | None, str]] = []
    title = ""
    for block in list(body) if body is not None else []:
        tag = str(block.tag)
        if tag == f"{W}p":
            style = block.find(f"{W}pPr/{W}pStyle")
            style_name = (style.get(f"{W}val") or "") if style is not None else ""
            text = _docx_text(block)
            if not text:
                continue
            if style_name.lower().startswith(("heading", "title")):
                title = title or text
                lines.append((text, ""))
            else:
                lines.append((None, text + "\n"))
        elif tag == f"{W}tbl":
            for row in block.iter(f"{W}tr"):
                cells = [_docx_text(cell) for cell in row.iter(f"{W}tc")]
                if any(cells):
                    lines.append((None, " | ".join(cells)))
            lines.append((None, ""))
    return ParsedDocument(title=title, sections=_sections_from_lines(lines))


def parse_pptx(content: bytes, filename: str, limits: FileLimits) -> ParsedDocument:
    """Each slide is a section headed by its title shape (or first line); tables become rows."""
    with _open_zip(content, filename, limits) as archive:
        names = archive.namelist()
        slides = sorted(
            (n for n in names if re.fullmatch(r"ppt/slides/slide\d+\.xml", n)),
            key=lambda n: int(re.findall(r"\d+", n)[-1]),
        )
        if "ppt/presentation.xml" not in names and not slides:
            raise DocumentRefused(f"{filename!r} is not a PowerPoint file (no slides)", failure_type="invalid_zip")
        roots = [safe_xml(read_member(archive, name, filename, limits), filename) for name in slides]
    sections: list[Section] = []
    for number, root in enumerate(roots, start=1):
        heading = ""
        paragraphs: list[str] = []
        for shape in root.iter():
            if _local(str(shape.tag)) != "sp":
                continue
            placeholder = next((n for n in shape.iter() if _local(str(n.tag)) == "ph"), None)
            is_title = placeholder is not None and (placeholder.get("type") or "") in ("title", "ctrTitle")
            texts = ["".join(t.text or "" for t in p.iter(f"{A}t")).strip() for p in shape.iter(f"{A}p")]
            texts = [t for t in texts if t]
            if is_title and texts and not heading:
                heading = " ".join(texts)
            else:
                paragraphs.extend(texts)
        for table in root.iter(f"{A}tbl"):
            for row in table.iter(f"{A}tr"):
                cells = [" ".join(t.text or "" for t in cell.iter(f"{A}t")).strip() for cell in row.iter(f"{A}tc")]
                if any(cells):
                    paragraphs.append(" | ".join(cells))
        if not heading and paragraphs:
            heading = paragraphs.pop(0)
        sections.append(Section(heading or f"Slide {number}", "\n\n".join(paragraphs)))
    title = sections[0].heading if sections else ""
    return ParsedDocument(title=title, sections=[s for s in sections if s.heading or s.text])


# ---------------------------------------------------------------- PDF (child process)


def _limit_child(memory_bytes: int, cpu_seconds: int) -> Callable[[], None]:
    def apply() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))

    return apply


async def parse_pdf(content: bytes, filename: str, limits: FileLimits) -> ParsedDocument:
    """Extract text per page in a child process; each page becomes a section."""
    if b"%%EOF" not in content[-2048:]:
        raise DocumentRefused(
            f"{filename!r} is a truncated or damaged PDF (no %%EOF end marker)", failure_type="truncated_pdf"
        )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ingestion_service.adapters.pdf_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_limit_child(limits.pdf_memory_bytes, max(1, int(limits.pdf_timeout_seconds))),
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(content), timeout=limits.pdf_timeout_seconds)
    except TimeoutError as error:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise DocumentRefused(
            f"{filename!r}: PDF parsing took longer than {limits.pdf_timeout_seconds:.0f} s", failure_type="pdf_timeout"
        ) from error
    if process.returncode != 0:
        tail = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["killed"]
        raise DocumentRefused(
            f"{filename!r}: the PDF parser failed (exit {process.returncode}: {tail[0][:200]}); "
            "the file may be damaged or too complex",
            failure_type="pdf_crash",
        )
    result = json.loads(stdout)
    if "error" in result:
        raise DocumentRefused(f"{filename!r}: {result['error']}", failure_type="invalid_pdf")
    pages = [str(page) for page in result["pages"]]
    sections = [Section(f"Page {number}", text.strip()) for number, text in enumerate(pages, start=1) if text.strip()]
    return ParsedDocument(title=str(result.get("title") or ""), sections=sections)


# ---------------------------------------------------------------- dispatch


async def parse_file(filename: str, content: bytes, limits: FileLimits) -> ParsedDocument:
    """Parse an uploaded file into a document; raise ``DocumentRefused`` with a clear reason."""
    if len(content) > limits.max_file_bytes:
        raise DocumentRefused(
            f"{filename!r} is {len(content)} bytes, over the {limits.max_file_bytes} byte limit", failure_type="too_big"
        )
    kind = check_file(filename, content)
    stem = filename.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    if kind == "pdf":
        document = await parse_pdf(content, filename, limits)
    elif kind == "docx":
        document = await asyncio.to_thread(parse_docx, content, filename, limits)
    elif kind == "pptx":
        document = await asyncio.to_thread(parse_pptx, content, filename, limits)
    else:
        text = decode_text(content, filename)
        if kind in ("html", "htm", "xhtml"):
            if kind == "xhtml":
                safe_xml(content, filename)  # an XHTML file is XML: refuse entities there too
            document = extract_html(text)
        else:
            sections = {
                "md": parse_markdown,
                "rst": parse_rst,
                "csv": parse_csv,
                "cfg": parse_config,
                "conf": parse_config,
                "txt": parse_plain,
                "text": parse_plain,
            }.get(kind)
            if sections is not None:
                document = ParsedDocument(title="", sections=sections(text))
            elif kind == "json":
                document = ParsedDocument(title="", sections=parse_json(text, filename))
            else:  # xml
                document = ParsedDocument(title="", sections=parse_xml(content, filename))
    if not document.title:
        headings = (s.heading for s in document.sections if s.heading)
        document.title = (stem if kind == "pdf" else next(headings, "")) or stem
    if document.is_empty():
        raise DocumentRefused(f"{filename!r} contains no text to index", failure_type="empty")
    return document
