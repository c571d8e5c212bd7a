"""A hostile site costs the shared page workers bounded time: a page that takes too long to parse fails alone,
a huge robots.txt bounds how many of a page's links are judged, and a large sitemap is parsed off the loop."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SourceKind
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from ingestion_service.bootstrap import IngestionService
from prometheus_client import REGISTRY

from .. import samples
from .conftest import command_event, last_status, loop_lateness, wait_for_source
from .site import LocalSite, page, serve

pytestmark = pytest.mark.integration

FAN_PAGES = 4
LINKS_PER_PAGE = 3000


async def sync(service: IngestionService, account: str, source: str, url: str) -> None:
    """Ask for a sync of a website source that follows its links, as admin-api's command does."""
    command = command_event(
        SOURCE_SYNC, account_id=account, source_id=source, kind=SourceKind.URL, url=url, import_related=True
    )
    await service.commands.handle(command)


async def test_a_deeply_nested_page_fails_on_time_while_another_account_gets_ready(
    ingestion: IngestionService,
) -> None:
    deep_account, other_account = unique_name("acc"), unique_name("acc")
    deep_site = LocalSite(
        pages={"/": page("Home", "The shallow shrimp shop.", ["/deep"]), "/deep": samples.deeply_nested_html()}
    )
    other_site = LocalSite(pages={"/": page("Other", "The prompt pelican post office opens early.", [])})
    async with serve(deep_site), serve(other_site):
        await sync(ingestion, deep_account, "deep", deep_site.url("/"))

        async def deep_page_fetched() -> bool:
            return bool(deep_site.hits_of("/deep"))

        await eventually(deep_page_fetched, "the deeply nested page fetched")
        await sync(ingestion, other_account, "other", other_site.url("/"))
        other = await wait_for_source(ingestion, other_account, "other")
        # Ready while a page worker is still held by the deep page: the other account did not wait for it.
        assert ingestion.runner.running(deep_account, "deep")
        deep = await wait_for_source(ingestion, deep_account, "deep")
    assert (other.state, other.documents) == ("ready", 1)
    assert (deep.state, deep.documents) == ("ready", 1)
    status = await last_status(ingestion, deep_account, "deep")
    bound = ingestion.settings.page_parse_timeout_seconds
    deep_url = deep_site.url("/deep")
    assert status["recent_failures"] == [
        {"url": deep_url, "error": f"{deep_url}: page took longer than {bound:g} s to parse"}
    ]


async def test_a_huge_robots_txt_bounds_the_links_judged_per_page(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    deep_links = [f"/deep/{index}/{'a' * 200}" for index in range(LINKS_PER_PAGE)]
    pages = {"/": page("Home", "The robust robin rests here.", ["/fan/0", *deep_links])}
    for number in range(FAN_PAGES):
        onward = [f"/fan/{number + 1}"] if number + 1 < FAN_PAGES else []
        pages[f"/fan/{number}"] = page(f"Fan {number}", f"Fan page {number} of the robin.", [*onward, *deep_links])
    site = LocalSite(robots=samples.robots_of_many_rules("Disallow: /deep/"), pages=pages)
    dropped_before = REGISTRY.get_sample_value("customer_agent_ingestion_links_dropped_total", {"reason": "per_page"})
    try:
        async with serve(site):
            await sync(ingestion, account, "robin", site.url("/"))
            # Judging every link against every rule took over a minute a page; bounded, seconds for the site.
            record = await wait_for_source(ingestion, account, "robin", timeout_seconds=30)
        assert (record.state, record.documents) == ("ready", 1 + FAN_PAGES)
        assert not [hit for hit in site.hits if hit.path.startswith("/deep/")], "robots.txt was not applied"
        dropped = REGISTRY.get_sample_value("customer_agent_ingestion_links_dropped_total", {"reason": "per_page"})
        assert (dropped or 0) - (dropped_before or 0) > (1 + FAN_PAGES) * (LINKS_PER_PAGE - 100)
    finally:
        # The pages' link text is thousands of chunks: left in the shared index, their vectors would keep
        # the session's embedding backfill busy for many minutes after this test.
        await ingestion.commands.handle(
            command_event(SOURCE_DELETE, account_id=account, source_id="robin", kind=SourceKind.URL)
        )


async def test_a_large_sitemap_is_parsed_off_the_event_loop(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    site = LocalSite(
        pages={
            "/": page("Home", "The home of the lazy lynx lodge.", []),  # links nowhere: /listed is in the sitemap
            "/listed": page("Listed", "The listed lynx lodge has six rooms.", []),
        }
    )
    async with serve(site), loop_lateness() as lateness:
        site.sitemap = samples.padded_sitemap([site.url("/listed")])
        await sync(ingestion, account, "lynx", site.url("/"))
        record = await wait_for_source(ingestion, account, "lynx")
    assert site.hits_of("/sitemap.xml")
    assert (record.state, record.documents) == ("ready", 2)
    assert lateness
    assert max(lateness) < 0.5  # parsing the 5 MB sitemap on the loop held it for seconds
