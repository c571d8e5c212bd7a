"""Reading bytes as text: in the encoding a byte order mark names, or a page declares, else the one detected.

Crawled pages and uploaded HTML files are read alike (``decode_page``), as browsers read them; other uploaded
text files by their byte order mark or detection (``decode_text``).
"""

from __future__ import annotations

import codecs
import contextlib
import re

from charset_normalizer import CharsetMatch, from_bytes
from charset_normalizer.utils import is_multi_byte_encoding

from ingestion_service.domain.documents import DocumentRefused

WESTERN_ENCODINGS = ("cp1252", "iso8859_15", "latin_1")
DETECTION_BYTES = 200_000
# The margins within which charset_normalizer holds two readings as good as each other (CharsetMatch.__lt__).
CHAOS_MARGIN = 0.005
COHERENCE_MARGIN = 0.02

# <meta charset="…"> or <meta http-equiv="Content-Type" content="…; charset=…">, looked for where browsers do.
META_CHARSET = re.compile(rb"""<meta\b[^>]*?charset\s*=\s*["']?\s*([a-z0-9_.:-]+)""", re.IGNORECASE)
META_PRESCAN_BYTES = 1024
# Labels browsers read as windows-1252 (WHATWG Encoding), and so do the pages that declare them.
WEB_ALIASES = {"ascii": "cp1252", "iso8859-1": "cp1252"}


def bom_encoding(content: bytes) -> str | None:
    """The encoding a byte order mark at the start of ``content`` names, if it starts with one."""
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if content.startswith(bom):
            return encoding
    return None


def decode_text(content: bytes, filename: str) -> str:
    """Decode bytes of a text file, detecting the encoding (BOMs, UTF-8, legacy code pages)."""
    if encoding := bom_encoding(content):
        return content.decode(encoding, errors="replace")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError:
        pass
    sample = _detection_sample(content)
    matches = list(from_bytes(sample))
    if not matches:
        raise DocumentRefused(f"{filename!r}: cannot detect the text encoding", failure_type="encoding")
    best = matches[0]
    # The supported languages are Western European: a Western code page wins unless the detected one reads
    # clearly better (short texts often tie, and the detection then favours what decodes the most multi-byte).
    western = _western_reading(sample, matches)
    if western is not None and not _reads_clearly_better(best, western[1]):
        return content.decode(western[0], errors="replace")
    return content.decode(best.encoding, errors="replace")


def _detection_sample(content: bytes) -> bytes:
    """The bytes the encoding is detected from: the first ``DETECTION_BYTES``, cut before a line break so that
    no character is cut in half (a half one rules its encoding out), at an even length for UTF-16's sake."""
    if len(content) <= DETECTION_BYTES:
        return content
    sample = content[:DETECTION_BYTES]
    cut = sample.rfind(b"\n") + 1
    return sample[: cut - cut % 2] if cut > 1 else sample


def _western_reading(sample: bytes, matches: list[CharsetMatch]) -> tuple[str, CharsetMatch] | None:
    """A Western code page that reads ``sample``, with the detection's reading in it; measured on its own when the
    detection skipped single-byte code pages (it does once a multi-byte one, often CJK, decodes with little chaos)."""
    for match in matches:
        for encoding in WESTERN_ENCODINGS:
            if encoding in match.could_be_from_charset:  # the code pages that decode the bytes alike
                return encoding, match
    if is_multi_byte_encoding(matches[0].encoding):
        alone = next(iter(from_bytes(sample, cp_isolation=[WESTERN_ENCODINGS[0]])), None)
        return (alone.encoding, alone) if alone is not None else None
    return None


def _reads_clearly_better(match: CharsetMatch, other: CharsetMatch) -> bool:
    """Whether ``match`` beats ``other`` on the detection's own measures by more than its own tie margins."""
    if abs(match.chaos - other.chaos) >= CHAOS_MARGIN:
        return match.chaos < other.chaos
    return match.coherence > other.coherence + COHERENCE_MARGIN


def _decoded(body: bytes, label: str) -> str | None:
    """``body`` decoded as the charset ``label`` names; None when Python has no text encoding of that name."""
    try:
        name = codecs.lookup(label).name
        return body.decode(WEB_ALIASES.get(name, name), errors="replace")
    except (LookupError, UnicodeError, ValueError):  # unknown, not a text codec ('base64'), or 'idna'-like
        return None


def meta_charset(body: bytes) -> str | None:
    """The charset a page declares in a ``<meta>`` element of its first bytes, if any."""
    found = META_CHARSET.search(body[:META_PRESCAN_BYTES])
    if found is None:
        return None
    label = found.group(1).decode("ascii").lower()
    # A page whose ASCII <meta> could be read is not UTF-16, whatever it says (browsers read UTF-8 then).
    return "utf-8" if label.startswith(("utf-16", "utf16")) else label


def decode_page(body: bytes, *, charset: str | None, html: bool) -> str:
    """A page's text (crawled, or an uploaded HTML file: no HTTP ``charset``): in the encoding its byte order mark
    names, else its HTTP charset, else its ``<meta>`` one, else the one detected as for other uploads. A charset
    Python does not know is passed over, not an error."""
    for label in (bom_encoding(body), charset, meta_charset(body) if html else None):
        if label and (text := _decoded(body, label)) is not None:
            return text
    with contextlib.suppress(DocumentRefused):  # no encoding detected: what UTF-8 makes of it
        return decode_text(body, "page")
    return body.decode("utf-8", errors="replace")
