"""The parser process: parses one uploaded file under memory and CPU limits.

``file_parsers.parse_file`` starts it as ``python -I -m ingestion_service.adapters.parse_worker``
with a scrubbed environment. It reads one JSON line (kind, filename, limits),
limits itself (address space, CPU time, no core dumps) before it reads the
file's bytes from the rest of stdin, and writes one JSON object to stdout: the
document (title and sections) or ``{"refused": {"reason", "failure_type"}}``.
It exits with ``OUT_OF_MEMORY_EXIT`` when it runs out of memory; a parser's
``ValueError`` or ``TypeError`` is the file's content (the same every time), so
it is a refusal, not a crash. It imports
only the parsers (not the shared event contracts), so it starts in ~0.1 s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import resource
import sys
from collections.abc import Callable
from pathlib import Path

import orjson
from customer_agent_shared.text import replace_lone_surrogates

from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.markdown_parser import parse_markdown
from ingestion_service.adapters.office_parsers import parse_docx, parse_pptx, parse_xml, safe_xml
from ingestion_service.adapters.parse_limits import FileLimits, TextBudget, reached_memory_limit
from ingestion_service.adapters.pdf_parser import parse_pdf
from ingestion_service.adapters.text_decoding import decode_page, decode_text
from ingestion_service.adapters.text_parsers import parse_config, parse_csv, parse_json, parse_plain, parse_rst
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, Section

OUT_OF_MEMORY_EXIT = 86
MAX_REQUEST_LINE = 64 * 1024

# Parsers whose output never outgrows their input: their text is counted once they are done.
BOUNDED_TEXT_PARSERS: dict[str, Callable[[str], list[Section]]] = {
    "md": parse_markdown,
    "rst": parse_rst,
    "txt": parse_plain,
    "text": parse_plain,
}


def limit_process(limits: FileLimits) -> None:
    """Cap this process's address space and CPU time; no core file when a limit kills it."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.parse_memory_bytes, limits.parse_memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.parse_cpu_seconds, limits.parse_cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    # Should the pod still run out of memory, the kernel kills this process rather than the service.
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")


def _counted(document: ParsedDocument, budget: TextBudget) -> ParsedDocument:
    for section in document.sections:
        budget.spend(section.heading)
        budget.spend(section.text)
    return document


def _valid_unicode(document: ParsedDocument) -> ParsedDocument:
    sections = [Section(replace_lone_surrogates(s.heading), replace_lone_surrogates(s.text)) for s in document.sections]
    return dataclasses.replace(document, title=replace_lone_surrogates(document.title), sections=sections)


def parse_content(kind: str, filename: str, content: bytes, limits: FileLimits) -> ParsedDocument:
    """Parse the bytes of a file whose type ``kind`` was already checked; ``DocumentRefused`` says why not."""
    return _valid_unicode(_parsed(kind, filename, content, limits))


def _parsed(kind: str, filename: str, content: bytes, limits: FileLimits) -> ParsedDocument:
    budget = TextBudget(filename, len(content), limits)
    if kind == "pdf":
        return parse_pdf(content, filename, budget)
    if kind == "docx":
        return parse_docx(content, filename, limits, budget)
    if kind == "pptx":
        return parse_pptx(content, filename, limits, budget)
    if kind in ("html", "htm", "xhtml"):
        if kind == "xhtml":
            safe_xml(content, filename)  # an XHTML file is XML: refuse entities there too
        # Read as a crawled page is (its <meta charset> counts), so a page indexes alike uploaded or crawled.
        return _counted(extract_html(decode_page(content, charset=None, html=True)), budget)
    text = decode_text(content, filename)
    if kind in BOUNDED_TEXT_PARSERS:
        return _counted(ParsedDocument(title="", sections=BOUNDED_TEXT_PARSERS[kind](text)), budget)
    if kind == "csv":
        return ParsedDocument(title="", sections=parse_csv(text, filename, budget))
    if kind in ("cfg", "conf"):
        return ParsedDocument(title="", sections=parse_config(text, budget))
    if kind == "json":
        return ParsedDocument(title="", sections=parse_json(text, filename, budget))
    return ParsedDocument(title="", sections=parse_xml(content, filename, budget))


def answer(request: dict[str, str], content: bytes, limits: FileLimits) -> bytes:
    """The JSON answer to one request: the document, or why the file is refused."""
    filename = request["filename"]
    try:
        document = parse_content(request["kind"], filename, content, limits)
    except DocumentRefused as refused:
        return _refusal(refused.reason, refused.failure_type)
    except RecursionError:
        return _refusal(f"{filename!r} is nested too deeply to parse", "too_deep")
    except (ValueError, TypeError) as error:
        if reached_memory_limit():  # a C parser may report a failed allocation as bad input
            raise MemoryError from error
        reason = f"{filename!r} cannot be read: its content is not a .{request['kind']} file this service can parse"
        return _refusal(f"{reason} (open it, save it again, and upload the new copy)", "unreadable", error)
    sections = [[section.heading, section.text] for section in document.sections]
    return orjson.dumps({"title": document.title, "sections": sections})


def _refusal(reason: str, failure_type: str, error: Exception | None = None) -> bytes:
    refused = {"reason": reason, "failure_type": failure_type}
    if error is not None:  # for the service's log, not for the person who uploaded the file
        refused["detail"] = f"{type(error).__name__}: {error}"[:300]
    return orjson.dumps({"refused": refused})


def main() -> int:
    """Entry point of the parser process."""
    stdin = sys.stdin.buffer
    request = orjson.loads(stdin.readline(MAX_REQUEST_LINE))
    limits = FileLimits(**request.pop("limits"))
    limit_process(limits)
    try:
        reply = answer(request, stdin.read(), limits)
        sys.stdout.buffer.write(reply)
        sys.stdout.buffer.flush()
    except MemoryError:
        os.write(2, b"MemoryError: the parser ran out of memory\n")
        os._exit(OUT_OF_MEMORY_EXIT)  # skip clean-up that would need memory too
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
