"""Word search works the moment a page is indexed; vectors follow, and the source's status shows both."""

from __future__ import annotations

from typing import Any

import pytest
from customer_agent_shared.content_index import EMBEDDING_FIELD, EMBEDDING_MODEL_FIELD
from customer_agent_shared.embeddings import BUILTIN_DIMENSION, BUILTIN_MODEL_ID
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceKind
from customer_agent_shared.testing.kafka import end_offsets, unique_name
from customer_agent_shared.topics import SOURCES_STATUS
from ingestion_service.bootstrap import IngestionService

from .conftest import collect_statuses, command_event, phrase_hits, wait_for_source
from .site import LocalSite, page, serve

pytestmark = pytest.mark.integration

ANIMALS = ("heron", "ibex", "jackal", "koala")


def wordy_site() -> LocalSite:
    """Four linked pages of about six chunks each: more chunks than one embedding batch."""
    pages = {"/": page("Zoo", "The zoo guide starts here.", [f"/{animal}" for animal in ANIMALS])}
    for animal in ANIMALS:
        text = " ".join(
            f"Fact {i} about the {animal}: it lives in enclosure {i} and eats at {i} o'clock." for i in range(90)
        )
        pages[f"/{animal}"] = page(animal.title(), text)
    return LocalSite(pages=pages)


def statuses_of(found: list[dict[str, Any]], source_id: str) -> list[dict[str, Any]]:
    """The statuses of one source that count chunks."""
    return [status for status in found if status["source_id"] == source_id and status["chunks"] > 0]


def all_embedded(found: list[dict[str, Any]], source_id: str) -> bool:
    """Whether a status said that every chunk of the source has its vector."""
    return any(status["embedded_chunks"] == status["chunks"] for status in statuses_of(found, source_id))


async def test_vectors_follow_the_words_and_the_status_shows_both(ingestion: IngestionService) -> None:
    assert ingestion.backfill is not None  # the fixture runs the built-in model
    account, source = unique_name("acc"), "zoo"
    servers = ingestion.settings.kafka_bootstrap_servers
    start = await end_offsets(servers, SOURCES_STATUS)
    # Held back while the site syncs, so the sync's final report comes before any vector.
    await ingestion.backfill.stop()
    try:
        async with serve(wordy_site()) as site:
            await ingestion.commands.handle(
                command_event(
                    SOURCE_SYNC,
                    account_id=account,
                    source_id=source,
                    kind=SourceKind.URL,
                    url=site.url("/"),
                    import_related=True,
                )
            )
            record = await wait_for_source(ingestion, account, source)
        assert record.state == "ready"
        assert len(await phrase_hits(ingestion, account, "about the koala")) > 0  # word search: at once
    finally:
        await ingestion.backfill.start()
    found = await collect_statuses(
        servers, account, start, until=lambda found: all_embedded(found, source), timeout_seconds=180
    )

    counted = statuses_of(found, source)
    ready = next(status for status in counted if status["state"] == "ready")
    assert record.chunks > 16  # more than one embedding batch
    assert (ready["chunks"], ready["embedded_chunks"]) == (record.chunks, 0)
    embedded = [status["embedded_chunks"] for status in counted]
    assert embedded == sorted(embedded)
    assert 0 < embedded[-2] < record.chunks  # the vectors that came before the last batch were reported too
    assert embedded[-1] == counted[-1]["chunks"] == record.chunks
    # The backfill's reports repeat what the sync reported instead of resetting it.
    for status in counted[counted.index(ready) :]:
        assert (status["state"], status["discovered"], status["fetched"], status["indexed"]) == ("ready", 5, 5, 5)
        assert status["documents"] == record.documents == 5
    sequences = [status["sequence"] for status in found]
    assert sequences == sorted(set(sequences))

    scope = {"bool": {"filter": [{"term": {"source_id": source}}]}}
    result = await ingestion.search.search(
        account, scope, size=100, _source=[EMBEDDING_FIELD, EMBEDDING_MODEL_FIELD], track_total_hits=True
    )
    chunks = [hit["_source"] for hit in result["hits"]["hits"]]
    assert len(chunks) == result["hits"]["total"]["value"] == record.chunks
    assert all(chunk[EMBEDDING_MODEL_FIELD] == BUILTIN_MODEL_ID for chunk in chunks)
    assert all(len(chunk[EMBEDDING_FIELD]) == BUILTIN_DIMENSION for chunk in chunks)
    async with ingestion.unit_of_work() as uow:
        stored = await uow.sources.get(account, source)
    assert stored is not None
    assert stored.embedded_chunks == record.chunks
