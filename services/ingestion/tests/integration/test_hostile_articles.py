"""Hostile content beyond the crawler's page: a knowledge-base article nested deep enough to take over a minute to
parse, and a page whose heading is 100 KB (copied into every chunk, it made index requests of gigabytes)."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest
from customer_agent_shared.events.content import ARTICLE_PUBLISHED, ArticleChanged
from customer_agent_shared.events.envelope import serialize_event
from customer_agent_shared.events.sources import SOURCE_SYNC, SourceKind
from customer_agent_shared.settings import InfrastructureSettings
from customer_agent_shared.testing.kafka import collect_records, end_offsets, produce_raw, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CONTENT_EVENTS
from ingestion_service.bootstrap import IngestionService
from ingestion_service.domain.chunking import MAX_LABEL_CHARS
from ingestion_service.domain.model import IMPLICIT_KB_SOURCE

from ..samples import deeply_nested_html
from .conftest import article_event, command_event, last_status, loop_lateness, phrase_hits, wait_for_source
from .site import LocalSite, serve

pytestmark = pytest.mark.integration

DEAD_LETTERS = CONTENT_EVENTS + ".dlq"
# About 950 KB, under the 1 MiB an article may have, left open: 84 s of CPU to parse, eight times the limit.
# Closed, the deepest nesting that fits took 9 s, which a quiet machine parsed inside the 10 s limit.
NESTED_DEPTH = 190_000


async def publish(infrastructure: InfrastructureSettings, article: ArticleChanged) -> str:
    """Announce an article on content.events.v1 as a knowledge base does; its event id."""
    event = article_event(ARTICLE_PUBLISHED, article)
    key = f"{article.account_id}:{article.article_id}".encode()
    await produce_raw(infrastructure.kafka_bootstrap_servers, CONTENT_EVENTS, serialize_event(event), key=key)
    return event.id


def article(account: str, article_id: str, body_html: str) -> ArticleChanged:
    """An article of ``account``'s knowledge base."""
    return ArticleChanged(
        account_id=account,
        article_id=article_id,
        url=f"https://help.example.com/{article_id}",
        title=article_id,
        body_html=body_html,
        language="en",
        updated_at=datetime.now(UTC),
    )


async def test_a_deeply_nested_article_fails_alone_and_the_next_account_is_indexed_promptly(
    infrastructure: InfrastructureSettings, ingestion: IngestionService
) -> None:
    hostile, other = unique_name("acc"), unique_name("acc")
    servers = infrastructure.kafka_bootstrap_servers
    dead_letters = await end_offsets(servers, DEAD_LETTERS)
    limit = ingestion.settings.page_parse_timeout_seconds
    nested = deeply_nested_html(NESTED_DEPTH, closed=False)
    assert len(nested.encode()) < ingestion.settings.max_article_bytes

    async with loop_lateness() as lateness:
        hostile_id = await publish(infrastructure, article(hostile, "deep", nested))
        published = time.monotonic()
        await publish(infrastructure, article(other, "tea", "<p>The tea tortoise brews on Tuesdays.</p>"))

        async def other_indexed() -> list[dict[str, Any]]:
            return await phrase_hits(ingestion, other, "tea tortoise brews")

        await eventually(other_indexed, "the other account's article indexed", within=limit + 20)
        indexed_after = time.monotonic() - published

        async def hostile_reported() -> dict[str, Any] | None:
            async with ingestion.unit_of_work() as uow:
                source = await uow.sources.get(hostile, IMPLICIT_KB_SOURCE)
            return await last_status(ingestion, hostile, IMPLICIT_KB_SOURCE) if source and source.error else None

        status = await eventually(hostile_reported, "the nested article's failure reported", within=limit + 20)

    assert indexed_after < limit + 10  # behind the nested article at worst, which the parser gives up on
    assert max(lateness) < 1.0, f"the event loop stalled {max(lateness):.1f} s"
    assert status["state"] == "ready"
    assert f"'deep' was not indexed: its HTML took longer than {limit:g} s to parse" in status["error"]
    assert [failure["url"] for failure in status["recent_failures"]] == ["https://help.example.com/deep"]
    assert await phrase_hits(ingestion, hostile, "deep dugong") == []
    records = await collect_records(
        servers,
        DEAD_LETTERS,
        from_offsets=dead_letters,
        until=lambda found: any(hostile_id.encode() in record.value for record in found),
    )
    [dead] = [record for record in records if hostile_id.encode() in record.value]
    assert "not indexed" in dead.headers["dlq-error"]


async def test_a_page_with_a_100_kb_heading_is_indexed_in_bounded_requests(
    ingestion: IngestionService, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert ingestion.kernel.opensearch is not None
    client = ingestion.kernel.opensearch
    real_bulk = client.bulk
    sizes: list[int] = []

    async def measured_bulk(*, body: bytes, refresh: str) -> Any:
        if body.startswith(b'{"index"'):  # chunks written (not the vectors the embedder adds)
            sizes.append(len(body))
        return await real_bulk(body=body, refresh=refresh)

    monkeypatch.setattr(client, "bulk", measured_bulk)
    account, source_id = unique_name("acc"), unique_name("src")
    heading = " ".join(f"heading{index}" for index in range(10_000))  # about 110 KB
    paragraphs = "".join(f"<p>Paragraph {index} of the long lemur ledger.</p>" for index in range(2_000))
    html = f"<html><head><title>{heading}</title></head><body><h1>{heading}</h1>{paragraphs}</body></html>"
    site = LocalSite(robots="User-agent: *\nAllow: /\n", pages={"/": html})
    async with serve(site):
        await ingestion.commands.handle(
            command_event(SOURCE_SYNC, account_id=account, source_id=source_id, kind=SourceKind.URL, url=site.url("/"))
        )
        record = await wait_for_source(ingestion, account, source_id)

    assert record.state == "ready", record.error
    chunks = await phrase_hits(ingestion, account, "long lemur ledger")
    assert chunks
    assert all(len(chunk["title"]) <= MAX_LABEL_CHARS and len(chunk["section"]) <= MAX_LABEL_CHARS for chunk in chunks)
    assert await phrase_hits(ingestion, account, "heading9999")  # the heading's text is still indexed
    assert sizes
    assert max(sizes) <= ingestion.settings.bulk_max_bytes
    assert sum(sizes) < 10 * len(html), f"{sum(sizes):,} bytes of index requests for a page of {len(html):,}"
