"""Validation of source commands before anything is fetched or parsed."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.sources import SourceCommand, SourceKind, UploadedFile, UploadReference
from ingestion_service.handlers.source_commands import invalid_reason

FILE = UploadedFile(filename="a.txt", size=1, sha256="", content_base64="YQ==")
UPLOAD = UploadReference(
    sha256="ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb", filename="a.txt", size=1
)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": SourceKind.URL}, "needs a 'url'"),
        ({"kind": SourceKind.URL, "url": "ftp://example.com/"}, "only http and https"),
        ({"kind": SourceKind.URL, "url": "https://example.com/"}, None),
        ({"kind": SourceKind.FILE}, "needs its uploaded file ('upload')"),
        ({"kind": SourceKind.FILE, "upload": UPLOAD}, None),
        ({"kind": SourceKind.FILE, "file": FILE}, None),  # inline, as commands were written before
        ({"kind": SourceKind.SHORT_ANSWER, "question": "Q?"}, "needs a 'question' and an 'answer'"),
        ({"kind": SourceKind.SHORT_ANSWER, "question": " ", "answer": "A"}, "needs a 'question' and an 'answer'"),
        ({"kind": SourceKind.SHORT_ANSWER, "question": "Q?", "answer": "A"}, None),
        ({"kind": SourceKind.KNOWLEDGE_BASE}, None),
    ],
)
def test_invalid_commands_get_a_reason(fields: dict[str, object], reason: str | None) -> None:
    found = invalid_reason(SourceCommand(account_id="a", source_id="s", **fields))
    if reason is None:
        assert found is None
    else:
        assert found is not None
        assert reason in found
