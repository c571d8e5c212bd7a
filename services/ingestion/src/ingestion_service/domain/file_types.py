"""Which uploaded files are accepted, and whether their bytes match their extension."""

from __future__ import annotations

import posixpath

from customer_agent_shared.events.sources import UPLOADABLE_FILE_EXTENSIONS

from ingestion_service.domain.documents import DocumentRefused

SUPPORTED_EXTENSIONS: tuple[str, ...] = UPLOADABLE_FILE_EXTENSIONS
TEXT_EXTENSIONS = frozenset({"htm", "xhtml", "cfg", "conf", "csv", "json", "html", "text", "txt", "rst", "xml", "md"})
ZIP_EXTENSIONS = frozenset({"docx", "pptx"})

# Leading bytes of common binary formats, to name what a renamed file really is.
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive"),
    (b"\x7fELF", "an ELF executable"),
    (b"MZ", "a Windows executable"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"Rar!", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0", "a legacy Office document"),
    (b"\x00\x00\x01\x00", "an icon"),
)


def extension_of(filename: str) -> str:
    """Lower-case extension without the dot ('' if none)."""
    return posixpath.splitext(filename.strip().lower())[1].lstrip(".")


def sniff(content: bytes) -> str | None:
    """What the bytes look like, when they start like a known binary format."""
    for magic, name in _MAGIC:
        if content.startswith(magic):
            return name
    return None


def looks_binary(content: bytes) -> bool:
    """True when the start of the bytes is not text in any common encoding."""
    head = content[:8192]
    if not head:
        return False
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 text with a BOM
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for byte in head if byte < 9 or 13 < byte < 32)
    return controls / len(head) > 0.05


def binary_content(content: bytes) -> str | None:
    """What the bytes are when they are not text: a known binary format's name, else "binary data" or None."""
    return sniff(content) or ("binary data" if looks_binary(content) else None)


def check_file(filename: str, content: bytes) -> str:
    """Return the file's type (its extension) or raise ``DocumentRefused`` with the reason."""
    extension = extension_of(filename)
    if extension not in SUPPORTED_EXTENSIONS:
        raise DocumentRefused(
            f"{filename!r}: file type {extension or '(none)'!r} is not supported; "
            f"supported: {', '.join(SUPPORTED_EXTENSIONS)}",
            failure_type="unsupported",
        )
    if not content:
        raise DocumentRefused(f"{filename!r} is empty", failure_type="empty")
    actual = sniff(content)
    if extension in ZIP_EXTENSIONS:
        if actual != "a ZIP archive":
            raise DocumentRefused(
                f"{filename!r} is not a .{extension} file: its content is {actual or 'not an Office Open XML package'}",
                failure_type="renamed_binary",
            )
    elif extension == "pdf":
        if actual != "a PDF document":
            raise DocumentRefused(
                f"{filename!r} is not a PDF: its content is {actual or 'missing the %PDF- header'}",
                failure_type="renamed_binary",
            )
    elif what := binary_content(content):
        raise DocumentRefused(
            f"{filename!r} is not a .{extension} text file: its content is {what}",
            failure_type="renamed_binary",
        )
    return extension
