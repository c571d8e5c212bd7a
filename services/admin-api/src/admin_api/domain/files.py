"""Which uploaded files become content sources."""

from __future__ import annotations

from customer_agent_shared.events.sources import UPLOADABLE_FILE_EXTENSIONS

from admin_api.domain.errors import InvalidRequest, PayloadTooLarge, UnsupportedFileType

ALLOWED_FILE_TYPES: tuple[str, ...] = UPLOADABLE_FILE_EXTENSIONS


def file_extension(filename: str) -> str:
    """The lower-case extension of a file name ('' when it has none)."""
    name = filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1]
    if "." not in name.strip("."):
        return ""
    return name.rsplit(".", 1)[-1].lower()


def check_upload(filename: str, size: int, max_bytes: int) -> str:
    """Validate an upload's name and size; return its extension."""
    if not filename.strip():
        raise InvalidRequest("The uploaded file has no name; send it as multipart field 'file' with a file name.")
    extension = file_extension(filename)
    if extension not in ALLOWED_FILE_TYPES:
        shown = f".{extension}" if extension else "without an extension"
        raise UnsupportedFileType(f"Files {shown} are not accepted. Upload one of: {', '.join(ALLOWED_FILE_TYPES)}.")
    if size == 0:
        raise InvalidRequest(f"The file {filename!r} is empty.")
    if size > max_bytes:
        raise PayloadTooLarge(
            f"The file {filename!r} is {size} bytes; the limit is {max_bytes} bytes ({max_bytes // 1_048_576} MiB)."
        )
    return extension
