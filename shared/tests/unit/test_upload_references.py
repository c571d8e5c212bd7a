"""Upload keys and the reference a file command carries: pure rules."""

from __future__ import annotations

import hashlib

import pytest
from customer_agent_shared.events.envelope import make_event, parse_event, serialize_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceCommand, SourceKind, UploadReference
from customer_agent_shared.uploads.store import UploadCorruptError, checked_key, upload_key, verified
from pydantic import ValidationError

CONTENT = b"Every coffee machine carries a two year warranty."
KEY = hashlib.sha256(CONTENT).hexdigest()


def test_a_key_is_the_lower_case_hex_sha256_of_the_bytes() -> None:
    assert upload_key(CONTENT) == KEY
    assert checked_key(KEY) == KEY
    for malformed in (KEY.upper(), KEY[:-1], KEY + "0", "x" * 64, f"{KEY[:32]}/../{KEY[:28]}"):
        with pytest.raises(ValueError, match="not an upload key"):
            checked_key(malformed)


def test_bytes_are_verified_against_their_key() -> None:
    assert verified(CONTENT, KEY) == CONTENT
    with pytest.raises(UploadCorruptError):
        verified(CONTENT + b" ", KEY)


def test_a_file_command_carries_a_reference_of_a_few_hundred_bytes_whatever_the_file_size() -> None:
    reference = UploadReference(sha256=KEY, filename="handbook.pdf", content_type="application/pdf", size=15_000_000)
    command = SourceCommand(account_id="acme", source_id="src_1", kind=SourceKind.FILE, upload=reference)
    wire = serialize_event(make_event(SOURCE_SYNC, command, source="admin-api", account_id="acme"))
    assert len(wire) < 1024
    parsed = parse_event(wire, SourceCommand).data
    assert parsed.upload == reference
    assert parsed.file is None


def test_a_reference_with_a_malformed_key_breaks_the_contract() -> None:
    with pytest.raises(ValidationError):
        UploadReference(sha256="../../etc/passwd", filename="a.txt", size=1)


def test_a_command_written_before_uploads_were_stored_still_parses() -> None:
    older = {
        "account_id": "acme",
        "source_id": "src_1",
        "kind": "file",
        "file": {"filename": "a.txt", "size": 1, "sha256": "", "content_base64": "YQ=="},
    }
    command = SourceCommand.model_validate(older)
    assert command.upload is None
    assert command.file is not None
    assert command.file.content_base64 == "YQ=="
