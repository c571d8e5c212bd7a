"""PDF text extraction, run in a child process under CPU and memory limits.

Reads the PDF from stdin and writes JSON to stdout: {"title", "pages": [text, ...]}
or {"error": reason}. Started by ``file_parsers.parse_pdf`` with ``resource.setrlimit``.
"""

from __future__ import annotations

import io
import json
import sys


def extract(content: bytes) -> dict[str, object]:
    """Text of each page and the document title; an ``error`` key when the PDF is unreadable."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            return {"error": "the PDF is encrypted"}
        pages = [page.extract_text() or "" for page in reader.pages]
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title)
    except (PdfReadError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        return {"error": f"unreadable PDF: {type(error).__name__}: {error}"}
    return {"title": title, "pages": pages}


def main() -> int:
    """Entry point of the child process."""
    content = sys.stdin.buffer.read()
    sys.stdout.write(json.dumps(extract(content)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
