"""Sync commands that arrive after their source was deleted (a dead letter replayed, a late redelivery): the
delete wins over every kind, the command is claimed and committed, never dead-lettered."""

from __future__ import annotations

from typing import Any

import pytest
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SOURCE_UPDATE, SourceKind, SourceState
from prometheus_client import REGISTRY

from .. import samples
from .test_handlers import ACCOUNT, PRICES, Ingestion, command_event

COMMANDS: dict[str, dict[str, Any]] = {
    "inline file": {"kind": SourceKind.FILE, "file": samples.inline_upload("prices.txt", PRICES)},
    "url": {"kind": SourceKind.URL, "url": "https://shop.example.test/"},
    "short answer": {"kind": SourceKind.SHORT_ANSWER, "question": "Gold plan?", "answer": "10 EUR."},
    "knowledge base": {"kind": SourceKind.KNOWLEDGE_BASE},
    "file without its upload": {"kind": SourceKind.FILE},  # invalid: would fail the source
}


def passed_over(kind: SourceKind) -> float:
    """How many commands of ``kind`` were passed over for a deleted source so far."""
    labels = {"source_kind": kind.value, "reason": "source_deleted"}
    return REGISTRY.get_sample_value("customer_agent_ingestion_commands_passed_over_total", labels) or 0.0


async def deleted_source(ingestion: Ingestion) -> int:
    """Source ``s`` deleted before any of its syncs was handled; the sequence of its last status report."""
    await ingestion.commands.handle(command_event(SOURCE_DELETE, "s", SourceKind.URL))
    assert ingestion.source("s").state is SourceState.DELETED
    return ingestion.source("s").status_sequence


def assert_still_deleted(ingestion: Ingestion, sequence: int) -> None:
    """Nothing of the source came back: no chunk, document, waiting file, sync or status report."""
    source = ingestion.source("s")
    assert (source.state, source.pending_file, source.error) == (SourceState.DELETED, None, None)
    assert source.status_sequence == sequence
    assert ingestion.index.of_source("s") == []
    assert ingestion.database.tables.documents.get((ACCOUNT, "s"), {}) == {}
    assert (ingestion.syncs.requested, ingestion.file_syncs.requested) == ([], [])
    assert ingestion.database.tables.parse_attempts == {}


@pytest.mark.parametrize("fields", COMMANDS.values(), ids=COMMANDS.keys())
async def test_a_sync_command_after_the_delete_is_claimed_and_not_carried_out(fields: dict[str, Any]) -> None:
    ingestion = Ingestion()
    sequence = await deleted_source(ingestion)
    replayed = command_event(SOURCE_SYNC, "s", **fields)
    counted = passed_over(fields["kind"])

    await ingestion.commands.handle(replayed)
    await ingestion.commands.handle(replayed)  # redelivered: a no-op

    assert ("ingestion:cmd", replayed.id) in ingestion.database.claimed
    assert passed_over(fields["kind"]) == counted + 1
    assert_still_deleted(ingestion, sequence)


async def test_an_upload_after_the_delete_is_not_recorded_even_while_its_file_is_still_stored() -> None:
    ingestion = Ingestion()
    sequence = await deleted_source(ingestion)
    replayed = command_event(SOURCE_SYNC, "s", SourceKind.FILE, upload=ingestion.stored("prices.txt", PRICES))

    await ingestion.commands.handle(replayed)
    await ingestion.parse_waiting_files()

    assert ("ingestion:cmd", replayed.id) in ingestion.database.claimed
    assert_still_deleted(ingestion, sequence)


async def test_an_inline_file_whose_source_is_deleted_during_its_parse_is_not_taken(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ingestion = Ingestion()
    await ingestion.command(SOURCE_SYNC, "s", SourceKind.SHORT_ANSWER, question="Gold plan?", answer="10 EUR.")
    parse = ingestion.files.parse
    inline = command_event(SOURCE_SYNC, "s", SourceKind.FILE, file=samples.inline_upload("prices.txt", PRICES))

    async def parse_while_the_admin_deletes(event_id: str, command: Any) -> Any:
        parsed = await parse(event_id, command)
        await ingestion.commands.handle(command_event(SOURCE_DELETE, "s", SourceKind.FILE))
        return parsed

    monkeypatch.setattr(ingestion.files, "parse", parse_while_the_admin_deletes)
    await ingestion.commands.handle(inline)

    assert ("ingestion:cmd", inline.id) in ingestion.database.claimed
    assert_still_deleted(ingestion, ingestion.statuses("s")[-1].sequence)
    assert ingestion.statuses("s")[-1].state is SourceState.DELETED


async def test_an_update_after_the_delete_is_claimed_and_not_carried_out() -> None:
    ingestion = Ingestion()
    sequence = await deleted_source(ingestion)
    edit = command_event(SOURCE_UPDATE, "s", SourceKind.URL, url="https://shop.example.test/new", private=True)
    counted = passed_over(SourceKind.URL)

    await ingestion.commands.handle(edit)  # not dead-lettered: it cannot bring the source back

    assert ("ingestion:cmd", edit.id) in ingestion.database.claimed
    assert passed_over(SourceKind.URL) == counted + 1
    assert_still_deleted(ingestion, sequence)
