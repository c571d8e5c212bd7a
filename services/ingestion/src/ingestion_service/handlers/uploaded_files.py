"""The bytes of an uploaded file: fetched from the upload store by reference, or decoded from a command
written before uploads were stored (read so that an old dead letter can still be replayed)."""

from __future__ import annotations

import base64
import binascii
import hashlib

from customer_agent_shared.events.sources import SourceCommand, UploadedFile, UploadReference
from customer_agent_shared.uploads.store import UploadCorruptError, UploadMissingError

from ingestion_service.domain.documents import DocumentRefused
from ingestion_service.handlers.types import UnitOfWorkFactory


def uploaded_file_name(command: SourceCommand) -> str:
    """The file name of a file command (which carries a reference or, if older, the file)."""
    described = command.upload or command.file
    assert described is not None, "a file command carries its upload"
    return described.filename


async def uploaded_content(unit_of_work: UnitOfWorkFactory, command: SourceCommand) -> bytes:
    """The file of a file command, checked against its SHA-256; DocumentRefused when it cannot be had.

    A database that cannot be reached is not the file's fault: that error propagates and the command is
    retried until the database is back.
    """
    if command.upload is not None:
        return await _fetched(unit_of_work, command.account_id, command.upload)
    assert command.file is not None, "a file command carries its upload"
    return _decoded(command.file)


async def _fetched(unit_of_work: UnitOfWorkFactory, account_id: str, upload: UploadReference) -> bytes:
    try:
        async with unit_of_work() as uow:
            return await uow.uploads.get(account_id, upload.sha256)
    except UploadMissingError as missing:
        raise DocumentRefused(
            f"{upload.filename!r}: the uploaded file is no longer stored (its source was deleted); upload it again",
            failure_type="upload_missing",
        ) from missing
    except UploadCorruptError as corrupt:
        raise DocumentRefused(
            f"{upload.filename!r}: the stored file does not match its sha256", failure_type="checksum"
        ) from corrupt


def _decoded(file: UploadedFile) -> bytes:
    try:
        content = base64.b64decode(file.content_base64, validate=True)
    except (binascii.Error, ValueError) as decode_error:
        raise DocumentRefused(
            f"{file.filename!r}: content is not valid base64", failure_type="encoding"
        ) from decode_error
    if file.sha256 and hashlib.sha256(content).hexdigest() != file.sha256.lower():
        raise DocumentRefused(f"{file.filename!r}: content does not match its sha256", failure_type="checksum")
    return content
