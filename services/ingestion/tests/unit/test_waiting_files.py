"""A file waits on a live file source only: a delete or any other sync its source takes drops the file, so
``FileSync`` finds nothing to take on a deleted source or one of another kind."""

from __future__ import annotations

from typing import Any

import pytest
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SourceKind, SourceState

from .. import samples
from .test_handlers import ACCOUNT, PRICES, Ingestion, command_event

TAKEN_INSTEAD: dict[str, tuple[str, dict[str, Any], SourceState]] = {
    "delete": (SOURCE_DELETE, {"kind": SourceKind.FILE}, SourceState.DELETED),
    "url": (SOURCE_SYNC, {"kind": SourceKind.URL, "url": "https://shop.example.test/"}, SourceState.PENDING),
    "short answer": (
        SOURCE_SYNC,
        {"kind": SourceKind.SHORT_ANSWER, "question": "Gold plan?", "answer": "10 EUR."},
        SourceState.READY,
    ),
    "knowledge base": (SOURCE_SYNC, {"kind": SourceKind.KNOWLEDGE_BASE}, SourceState.READY),
    "file without its upload": (SOURCE_SYNC, {"kind": SourceKind.FILE}, SourceState.FAILED),
    "inline file": (
        SOURCE_SYNC,
        {"kind": SourceKind.FILE, "file": samples.inline_upload("prices.txt", PRICES)},
        SourceState.READY,
    ),
}


@pytest.mark.parametrize(("event_type", "fields", "state"), TAKEN_INSTEAD.values(), ids=TAKEN_INSTEAD.keys())
async def test_a_waiting_upload_is_dropped_by_whatever_its_source_takes_instead(
    event_type: str, fields: dict[str, Any], state: SourceState
) -> None:
    ingestion = Ingestion()
    upload = ingestion.stored("waiting.txt", PRICES.replace(b"10 EUR", b"12 EUR"))
    await ingestion.commands.handle(command_event(SOURCE_SYNC, "s", SourceKind.FILE, upload=upload))
    assert ingestion.source("s").pending_file is not None

    await ingestion.commands.handle(command_event(event_type, "s", **fields))
    taken = ingestion.source("s")
    assert (taken.kind, taken.state, taken.pending_file) == (fields["kind"], state, None)
    reports = len(ingestion.statuses("s"))

    await ingestion.files.run(ACCOUNT, "s")  # the upload's run, started only now: nothing left to take

    assert "waiting.txt" not in [chunk.url for chunk in ingestion.index.of_source("s")]
    assert (ingestion.source("s").state, len(ingestion.statuses("s"))) == (state, reports)
