"""PDF text extraction (run in the parser process, under its memory and CPU limits): a section per page."""

from __future__ import annotations

import io

from ingestion_service.adapters.parse_limits import TextBudget
from ingestion_service.domain.documents import DocumentRefused, ParsedDocument, Section


def parse_pdf(content: bytes, filename: str, budget: TextBudget) -> ParsedDocument:
    """Text of each page as a section titled 'Page N', and the document's title."""
    if b"%%EOF" not in content[-2048:]:
        raise DocumentRefused(
            f"{filename!r} is a truncated or damaged PDF (no %%EOF end marker)", failure_type="truncated_pdf"
        )
    from pypdf import PdfReader  # imported here: only PDFs pay for it
    from pypdf.errors import LimitReachedError, PyPdfError

    sections: list[Section] = []
    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        if reader.is_encrypted:
            raise DocumentRefused(f"{filename!r}: the PDF is encrypted", failure_type="invalid_pdf")
        for number, page in enumerate(reader.pages, start=1):
            text = (page.extract_text() or "").strip()
            budget.spend(text)
            if text:
                sections.append(Section(f"Page {number}", text))
        title = ""
        if reader.metadata is not None and reader.metadata.title:
            title = str(reader.metadata.title)
    except LimitReachedError as error:  # a bound of pypdf's own against hostile files: the file is refused
        raise DocumentRefused(
            f"{filename!r} is over the PDF reader's limits (pypdf: {error})", failure_type="pdf_limits"
        ) from error
    except (PyPdfError, ValueError, KeyError, TypeError, IndexError, AttributeError) as error:
        raise DocumentRefused(
            f"{filename!r}: unreadable PDF: {type(error).__name__}: {error}", failure_type="invalid_pdf"
        ) from error
    return ParsedDocument(title=title, sections=sections)
