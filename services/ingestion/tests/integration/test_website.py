"""Website sources against real local HTTP sites and the real stack (Kafka, PostgreSQL, OpenSearch)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from customer_agent_shared.events.envelope import serialize_event
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SourceKind
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import end_offsets, produce_raw, unique_name
from customer_agent_shared.topics import SOURCES_COMMANDS, SOURCES_STATUS
from ingestion_service.bootstrap import IngestionService
from prometheus_client import REGISTRY

from .conftest import collect_statuses, command_event, last_status, phrase_hits, wait_for_source
from .site import LocalSite, page, serve

pytestmark = pytest.mark.integration


def cyclic_site() -> LocalSite:
    """a → b → c → a (a cycle), plus a robots-disallowed page, a duplicate and an external link."""
    return LocalSite(
        robots="User-agent: *\nDisallow: /private/\n",
        pages={
            "/": page(
                "Home",
                "Welcome to the alpha pangolin home page.",
                ["/a", "/private/secret", "https://elsewhere.example/"],
            ),
            "/a": page("Page A", "The aardvark bakery opens at nine.", ["/b", "/"]),
            "/b": page("Page B", "The badger brewery ships on Mondays.", ["/c", "/a?utm_source=x"]),
            "/c": page("Page C", "The capybara cafe serves cocoa.", ["/a", "/c#top", "/c-copy"]),
            "/c-copy": page("Page C", "The capybara cafe serves cocoa.", ["/a", "/c#top", "/c-copy"]),
            "/private/secret": page("Secret", "The secret salamander sauce.", []),
        },
    )


async def test_link_graph_with_cycles_and_robots_via_kafka(
    infrastructure: InfrastructureSettings, ingestion: IngestionService
) -> None:
    account, source = unique_name("acc"), unique_name("src")
    fetched_before = REGISTRY.get_sample_value("customer_agent_ingestion_pages_fetched_total", {"outcome": "2xx"}) or 0
    bytes_before = REGISTRY.get_sample_value("customer_agent_ingestion_fetched_bytes_total") or 0
    async with serve(cyclic_site()) as site:
        start = await end_offsets(infrastructure.kafka_bootstrap_servers, SOURCES_STATUS, 3)
        event = command_event(
            SOURCE_SYNC,
            account_id=account,
            source_id=source,
            kind=SourceKind.URL,
            url=site.url("/"),
            import_related=True,
        )
        await produce_raw(
            infrastructure.kafka_bootstrap_servers,
            SOURCES_COMMANDS,
            serialize_event(event),
            key=f"{account}:{source}".encode(),
        )

        statuses = await collect_statuses(
            infrastructure.kafka_bootstrap_servers,
            account,
            start,
            until=lambda found: any(status["state"] == "ready" for status in found),
        )
        record = await wait_for_source(ingestion, account, source)

    assert record.state == "ready"
    assert next(s["state"] for s in statuses) == "pending"
    assert "syncing" in [s["state"] for s in statuses]
    sequences = [s["sequence"] for s in statuses]
    assert sequences == sorted(sequences)
    assert len(set(sequences)) == len(sequences)
    final = statuses[-1]
    assert final["state"] == "ready"
    # /, /a, /b, /c indexed; /c-copy is a content duplicate; /private/ never fetched; cycles visited once.
    assert final["documents"] == 4
    assert final["discovered"] == 5
    assert record.documents == 4
    assert not site.hits_of("/private/secret")
    for path in ("/", "/a", "/b", "/c"):
        assert len(site.hits_of(path)) == 1, path
    await check_the_cyclic_sites_chunks(ingestion, account, site)
    fetched_after = REGISTRY.get_sample_value("customer_agent_ingestion_pages_fetched_total", {"outcome": "2xx"})
    assert (fetched_after or 0) - fetched_before >= 6  # robots.txt and 5 pages
    assert (REGISTRY.get_sample_value("customer_agent_ingestion_fetched_bytes_total") or 0) > bytes_before
    assert REGISTRY.get_sample_value("customer_agent_ingestion_indexing_latency_seconds_count", {"source_kind": "url"})


async def check_the_cyclic_sites_chunks(ingestion: IngestionService, account: str, site: LocalSite) -> None:
    """The duplicate page is indexed once, the robots-disallowed one never; a page's chunk is its main text."""
    assert len(await phrase_hits(ingestion, account, "capybara cafe")) == 1
    assert await phrase_hits(ingestion, account, "secret salamander") == []
    chunk = (await phrase_hits(ingestion, account, "badger brewery"))[0]
    assert chunk["title"] == "Page B"
    assert chunk["section"] == "Page B"
    assert chunk["language"] == "en"
    assert chunk["url"] == site.url("/b")
    assert chunk["source_kind"] == "url"
    assert chunk["citations_allowed"] is True
    assert "navigation menu" not in chunk["body"]
    assert "footer" not in chunk["body"]


async def test_redirects_to_private_addresses_are_refused(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    site = LocalSite(
        pages={"/": page("Home", "The harmless hedgehog home.", ["/to-loopback", "/to-metadata"])},
    )
    async with serve(site):
        port = site.base_url.rsplit(":", 1)[1]
        site.redirects["/to-loopback"] = f"http://127.0.0.2:{port}/"  # loopback, but not in the allowed 127.0.0.1/32
        site.redirects["/to-metadata"] = "http://169.254.169.254/latest/meta-data/"
        site.redirects["/start-redirect"] = "http://169.254.169.254/latest/meta-data/"
        await ingestion.commands.handle(
            command_event(
                SOURCE_SYNC,
                account_id=account,
                source_id="s1",
                kind=SourceKind.URL,
                url=site.url("/"),
                import_related=True,
            )
        )
        await ingestion.commands.handle(
            command_event(
                SOURCE_SYNC, account_id=account, source_id="s2", kind=SourceKind.URL, url=site.url("/start-redirect")
            )
        )
        partial = await wait_for_source(ingestion, account, "s1")
        refused = await wait_for_source(ingestion, account, "s2")
    assert partial.state == "ready"
    assert partial.documents == 1
    assert refused.state == "failed"
    assert refused.error is not None
    assert "refused to connect to 169.254.169.254: it resolves to a cloud metadata address" in refused.error
    async with ingestion.unit_of_work() as uow:
        docs = await uow.documents.for_source(account, "s1")
    assert len(docs) == 1
    status = await last_status(ingestion, account, "s1")
    errors = {failure["url"].rsplit("/", 1)[1]: failure["error"] for failure in status["recent_failures"]}
    assert "refused to connect to 127.0.0.2: it resolves to a loopback address" in errors["to-loopback"]
    assert "cloud metadata address" in errors["to-metadata"]
    assert status["failed"] == 2


async def test_a_1200_page_site_is_capped_at_1000(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    pages = {"/": page("Index", "The index of the large lemur library.", [f"/p{i}" for i in range(1200)])}
    pages.update(
        {f"/p{i}": page(f"P{i}", f"Page number {i} of the lemur library, entry {i * 7919}.") for i in range(1200)}
    )
    async with serve(LocalSite(pages=pages)) as site:
        await ingestion.commands.handle(
            command_event(
                SOURCE_SYNC,
                account_id=account,
                source_id="big",
                kind=SourceKind.URL,
                url=site.url("/"),
                import_related=True,
            )
        )
        record = await wait_for_source(ingestion, account, "big", timeout_seconds=120)
    page_hits = [hit for hit in site.hits if hit.path.startswith("/p") or hit.path == "/"]
    assert len(page_hits) == 1000
    assert record.state == "ready"
    assert record.documents == 1000
    status = await last_status(ingestion, account, "big")
    assert status["discovered"] == 1000
    assert status["fetched"] == 1000
    assert status["indexed"] == 1000
    assert await ingestion.search.count(account, {"term": {"source_id": "big"}}) == record.chunks >= 1000


async def test_resync_reindexes_changed_pages_and_gets_304_for_unchanged(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    site = LocalSite(
        pages={
            "/": page("Home", "The steady stork stays the same.", ["/news", "/gone"]),
            "/news": page("News", "Old news about the orange otter.", []),
            "/gone": page("Gone", "A page about the vanishing vole.", []),
        }
    )
    async with serve(site):
        sync = command_event(
            SOURCE_SYNC, account_id=account, source_id="s", kind=SourceKind.URL, url=site.url("/"), import_related=True
        )
        await ingestion.commands.handle(sync)
        await wait_for_source(ingestion, account, "s")
        assert len(await phrase_hits(ingestion, account, "orange otter")) == 1
        site.pages["/news"] = page("News", "Fresh news about the purple penguin.", [])
        del site.pages["/gone"]
        site.hits.clear()
        resync = command_event(
            SOURCE_SYNC, account_id=account, source_id="s", kind=SourceKind.URL, url=site.url("/"), import_related=True
        )
        await ingestion.commands.handle(resync)
        record = await wait_for_source(ingestion, account, "s")
    home = site.hits_of("/")
    assert [(h.status, h.if_none_match is not None) for h in home] == [(304, True)]
    assert [h.status for h in site.hits_of("/news")] == [200]
    assert site.hits_of("/news")[0].if_none_match is not None  # asked conditionally, but it changed
    assert await phrase_hits(ingestion, account, "orange otter") == []
    assert len(await phrase_hits(ingestion, account, "purple penguin")) == 1
    assert await phrase_hits(ingestion, account, "vanishing vole") == []  # 404 now: removed
    assert len(await phrase_hits(ingestion, account, "steady stork")) == 1  # unchanged page kept
    assert record.documents == 2
    status = await last_status(ingestion, account, "s")
    assert status["indexed"] == 1  # only the changed page was re-indexed


async def test_deleting_a_source_removes_all_its_chunks(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    async with serve(cyclic_site()) as site:
        await ingestion.commands.handle(
            command_event(
                SOURCE_SYNC,
                account_id=account,
                source_id="doomed",
                kind=SourceKind.URL,
                url=site.url("/"),
                import_related=True,
            )
        )
        await wait_for_source(ingestion, account, "doomed")
    assert await ingestion.search.count(account, {"term": {"source_id": "doomed"}}) > 0
    await ingestion.commands.handle(
        command_event(SOURCE_DELETE, account_id=account, source_id="doomed", kind=SourceKind.URL)
    )
    record = await wait_for_source(ingestion, account, "doomed")
    assert record.state == "deleted"
    await ingestion.store.refresh()
    assert await ingestion.search.count(account, {"term": {"source_id": "doomed"}}) == 0
    assert (await last_status(ingestion, account, "doomed"))["state"] == "deleted"


async def test_the_scheduler_resyncs_sources_whose_interval_has_passed(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    site = LocalSite(pages={"/": page("Home", "The weekly walrus report.", [])})
    async with serve(site):
        await ingestion.commands.handle(
            command_event(
                SOURCE_SYNC,
                account_id=account,
                source_id="weekly",
                kind=SourceKind.URL,
                url=site.url("/"),
                resync_interval_hours=168,
            )
        )
        first = await wait_for_source(ingestion, account, "weekly")
        assert first.last_synced_at is not None
        assert (account, "weekly") not in await ingestion.scheduler.tick(first.last_synced_at + timedelta(hours=167))
        assert len(site.hits_of("/")) == 1
        due = await ingestion.scheduler.tick(first.last_synced_at + timedelta(hours=169))
        assert (account, "weekly") in due
        second = await wait_for_source(ingestion, account, "weekly")
    assert second.last_synced_at is not None
    assert second.last_synced_at > first.last_synced_at
    assert [hit.status for hit in site.hits_of("/")] == [200, 304]
