"""Content that arrives only one way: a page listed in the sitemap alone, and a knowledge base's articles
announced on content.events.v1 — both through real Kafka to the running service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.content import ARTICLE_PUBLISHED, ArticleChanged
from customer_agent_shared.events.envelope import serialize_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceKind
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import produce_raw, unique_name
from customer_agent_shared.topics import CONTENT_EVENTS, SOURCES_COMMANDS
from ingestion_service.bootstrap import IngestionService
from ingestion_service.domain.model import IMPLICIT_KB_SOURCE

from .conftest import article_event, command_event, phrase_hits, wait_for_source
from .site import LocalSite, page, serve

pytestmark = pytest.mark.integration


async def hits_eventually(service: IngestionService, account: str, phrase: str, seconds: float = 30.0) -> int:
    """How many chunks hold ``phrase`` once there are any (0 if none appear in time)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        found = await phrase_hits(service, account, phrase)
        if found:
            return len(found)
        await asyncio.sleep(0.2)
    return 0


async def test_a_page_only_the_sitemap_lists_is_crawled(
    infrastructure: InfrastructureSettings, ingestion: IngestionService
) -> None:
    account, source = unique_name("acc"), unique_name("src")
    site = LocalSite(
        robots="User-agent: *\nAllow: /\n",
        pages={
            "/": page("Home", "The home of the quokka quilt shop.", []),  # links nowhere
            "/hidden": page("Hidden", "The hidden heron hat rack is on page two.", []),
        },
    )
    async with serve(site):
        site.sitemap = (
            '<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{site.url('/hidden')}</loc></url></urlset>"
        )
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
        record = await wait_for_source(ingestion, account, source)

    assert record.state == "ready"
    assert site.hits_of("/sitemap.xml")
    assert await phrase_hits(ingestion, account, "hidden heron hat rack")


async def test_an_article_announced_on_content_events_is_answerable(
    infrastructure: InfrastructureSettings, ingestion: IngestionService
) -> None:
    account = unique_name("acc")
    article = ArticleChanged(
        account_id=account,
        article_id="kb-42",
        url="https://help.example.com/articles/42",
        title="Returns",
        body_html="<h2>Returning an order</h2><p>The returning rhinoceros ramp is open on Sundays.</p>",
        language="en",
        updated_at=datetime.now(UTC),
    )
    event = article_event(ARTICLE_PUBLISHED, article)
    await produce_raw(
        infrastructure.kafka_bootstrap_servers, CONTENT_EVENTS, serialize_event(event), key=f"{account}:kb-42".encode()
    )

    assert await hits_eventually(ingestion, account, "returning rhinoceros ramp") == 1
    record = await wait_for_source(ingestion, account, IMPLICIT_KB_SOURCE)
    assert (record.state, record.documents) == ("ready", 1)
