"""A website page with a chunk too large for any index request is left out; the rest of the site is indexed."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceKind
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.bootstrap import IngestionService

from .conftest import command_event, last_status, phrase_hits, wait_for_source
from .site import LocalSite, page, serve

pytestmark = pytest.mark.integration

# Below a long paragraph's chunk as a bulk entry (about 1,900 bytes), above a short page's (about 600).
SMALL_BULK_BYTES = 1_200


async def test_a_page_grown_too_large_to_index_is_left_out_and_the_rest_of_the_site_kept(
    ingestion: IngestionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    account = unique_name("acc")
    site = LocalSite(
        pages={
            "/": page("Home", "The humble heron hotel.", ["/a", "/big", "/b"]),
            "/a": page("A", "The amber antelope arcade."),
            "/b": page("B", "The brisk bison bakery."),
            "/big": page("Big", "The giant gecko garage."),
        }
    )
    async with serve(site):
        sync = command_event(
            SOURCE_SYNC, account_id=account, source_id="s", kind=SourceKind.URL, url=site.url("/"), import_related=True
        )
        await ingestion.commands.handle(sync)
        first = await wait_for_source(ingestion, account, "s")
        assert (first.state, first.documents) == ("ready", 4)
        assert len(await phrase_hits(ingestion, account, "giant gecko")) == 1

        # The page grows past what one request may carry (the bound lowered so that a page of ordinary size
        # does); another page changes in the same sync and is written beside it.
        monkeypatch.setattr(ingestion.store, "bulk_max_bytes", SMALL_BULK_BYTES)
        site.pages["/big"] = page("Big", "The giant gecko garage. " + "Geckos climb the garage walls. " * 100)
        site.pages["/b"] = page("B", "The brisk bison bakery bakes bagels.")
        resync = command_event(
            SOURCE_SYNC, account_id=account, source_id="s", kind=SourceKind.URL, url=site.url("/"), import_related=True
        )
        await ingestion.commands.handle(resync)
        second = await wait_for_source(ingestion, account, "s")

    assert (second.state, second.error, second.documents) == ("ready", None, 3)
    assert await phrase_hits(ingestion, account, "giant gecko") == []  # neither version answers for the page
    assert len(await phrase_hits(ingestion, account, "bison bakery bakes bagels")) == 1
    assert len(await phrase_hits(ingestion, account, "amber antelope")) == 1
    async with ingestion.unit_of_work() as uow:
        documents = await uow.documents.for_source(account, "s")
    assert sorted(record.url for record in documents.values()) == sorted(site.url(p) for p in ("/", "/a", "/b"))
    status = await last_status(ingestion, account, "s")
    assert (status["state"], status["failed"], status["indexed"]) == ("ready", 1, 1)
    [failure] = status["recent_failures"]
    assert failure["url"] == site.url("/big")
    assert "cannot be indexed: one of its chunks is" in failure["error"]
    assert f"more than the {SMALL_BULK_BYTES:,} bytes a bulk request may carry" in failure["error"]
