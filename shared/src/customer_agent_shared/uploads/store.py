"""The upload store's contract: an account's blobs, addressed by the SHA-256 of their bytes.

A blob is kept while something holds it (admin-api: each file source whose content it is) and deleted
with its last hold. Events name a blob by its key; the reader checks the bytes against the key. The
PostgreSQL implementation is ``uploads.postgres``; an S3-compatible bucket could implement the same
protocol (docs/adr/0006-uploads-travel-as-a-reference.md).
"""

from __future__ import annotations

import hashlib
import re
from typing import Protocol

KEY_PATTERN = r"^[0-9a-f]{64}$"
"""A key: the lower-case hex SHA-256 of the blob's bytes."""
_KEY = re.compile(KEY_PATTERN)


class UploadMissingError(LookupError):
    """The account holds no blob of that key: never stored, deleted with its last hold, or another account's."""


class UploadCorruptError(ValueError):
    """The stored bytes do not hash to their key."""


def upload_key(content: bytes) -> str:
    """The key of ``content``: its SHA-256, lower-case hex."""
    return hashlib.sha256(content).hexdigest()


def checked_key(key: str) -> str:
    """``key`` if it is a well-formed key, else ValueError (so a malformed key never reaches a query)."""
    if not _KEY.match(key):
        raise ValueError(f"not an upload key (64 lower-case hex digits): {key[:80]!r}")
    return key


def verified(content: bytes, key: str) -> bytes:
    """``content`` if it hashes to ``key``, else UploadCorruptError."""
    if upload_key(content) != key:
        raise UploadCorruptError(f"the stored upload {key[:12]}… does not match its SHA-256")
    return content


class UploadReader(Protocol):
    """Reads an account's blobs by key."""

    async def get(self, account_id: str, key: str) -> bytes:
        """The account's blob of ``key``, checked against it; UploadMissingError if the account has none."""
        ...


class UploadStore(UploadReader, Protocol):
    """Stores, reads and deletes an account's blobs."""

    async def put(self, account_id: str, content: bytes, *, holder: str) -> str:
        """Store ``content`` for the account (once, however many hold it), record ``holder``'s hold; its key."""
        ...

    async def delete(self, account_id: str, key: str, *, holder: str) -> bool:
        """Drop ``holder``'s hold; the blob is deleted with its last hold. True if the blob was deleted."""
        ...
