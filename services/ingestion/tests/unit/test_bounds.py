"""What one chunk carries of a long title or heading, and how large one index request grows."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.content import ARTICLE_PUBLISHED, ArticleChanged
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.sources import SourceKind, SourceState, SourceStatus
from customer_agent_shared.messaging.failures import FailureKind, classify
from customer_agent_shared.topics import SOURCES_STATUS
from ingestion_service.adapters.bulk_batches import BulkEntry, ChunkTooLargeError, bulk_batches
from ingestion_service.adapters.html_extract import extract_html
from ingestion_service.adapters.page_worker_pool import PageWorkers
from ingestion_service.domain.chunking import MAX_LABEL_CHARS, bounded_label, chunk_sections
from ingestion_service.domain.documents import ParsedDocument, Section
from ingestion_service.domain.model import IMPLICIT_KB_SOURCE, Source
from ingestion_service.handlers.articles import ArticleIndexing, ArticleNotIndexedError
from ingestion_service.handlers.indexing import DocumentIndexer

from .fakes import FakeDatabase, FakeIndex, FakeUnitOfWork, Tables

LONG_HEADING = " ".join(f"word{index}" for index in range(20_000))  # about 150 KB, no other text


def test_a_label_that_fits_is_kept_and_a_longer_one_is_cut_at_a_word() -> None:
    assert bounded_label("Returns and refunds") == "Returns and refunds"
    cut = bounded_label(LONG_HEADING)
    assert len(cut) <= MAX_LABEL_CHARS
    assert cut.endswith("…")
    assert LONG_HEADING.startswith(cut[:-1])
    assert LONG_HEADING[len(cut) - 1] == " "  # cut where a word ends
    assert len(bounded_label("x" * 10_000, 50)) == 50  # no space: cut hard


def test_a_long_heading_is_cut_for_its_chunks_and_its_text_is_kept_in_them() -> None:
    chunks = chunk_sections([Section(LONG_HEADING, "The gold plan costs 10 EUR.")], max_chars=1200)
    assert all(len(chunk.section) <= MAX_LABEL_CHARS for chunk in chunks)
    assert all(len(chunk.section) + len(chunk.body) <= 1200 + 200 for chunk in chunks)
    text = " ".join(chunk.body for chunk in chunks)
    assert "word19999" in text
    assert "gold plan" in text


def test_the_title_and_heading_count_in_a_chunks_budget() -> None:
    heading = "Delivery times and prices " * 4  # about 100 characters
    chunks = chunk_sections([Section(heading, "word " * 5000)], max_chars=1000, overlap_chars=0, title_chars=250)
    assert all(250 + len(chunk.section) + len(chunk.body) <= 1000 for chunk in chunks)


def test_a_chunk_carries_a_bounded_title_however_long_the_documents() -> None:
    indexer = DocumentIndexer(FakeIndex(), chunk_chars=1200, overlap_chars=200)
    source = Source(account_id="acct", source_id="docs", kind=SourceKind.URL, state=SourceState.READY)
    document = ParsedDocument(title=LONG_HEADING, sections=[Section(LONG_HEADING, "word " * 100_000)])
    prepared = indexer.prepare(source, document, document_id="d", url="u", updated_at=datetime.now(UTC))
    sizes = [len(json.dumps(chunk.source())) for chunk in prepared.chunks]
    assert max(sizes) < 6_000  # title, section and body twice (the localized copies), and the metadata
    assert all(len(chunk.title) <= MAX_LABEL_CHARS for chunk in prepared.chunks)


def test_an_html_title_is_bounded_where_it_is_read() -> None:
    document = extract_html(f"<html><head><title>{LONG_HEADING}</title></head><body><p>x</p></body></html>")
    assert 0 < len(document.title) <= MAX_LABEL_CHARS


def _entry(size: int) -> BulkEntry:
    return BulkEntry(b"x" * size, "d1", "https://shop.test/page")


def test_bulk_requests_are_bounded_by_count_and_by_bytes() -> None:
    batches = list(bulk_batches([_entry(400)] * 10, max_entries=3, max_bytes=1000))
    assert [len(batch) for batch in batches] == [2, 2, 2, 2, 2]
    batches = list(bulk_batches([_entry(10)] * 10, max_entries=3, max_bytes=1000))
    assert [len(batch) for batch in batches] == [3, 3, 3, 1]


def test_an_entry_larger_than_a_request_fails_its_document_before_anything_is_sent() -> None:
    with pytest.raises(ChunkTooLargeError, match=r"https://shop\.test/page") as raised:
        next(bulk_batches([_entry(10), _entry(2000)], max_entries=10, max_bytes=1000))
    assert classify(raised.value).kind is FailureKind.PERMANENT


async def test_an_article_too_large_is_reported_on_the_knowledge_base_and_dead_lettered() -> None:
    database = FakeDatabase(Tables())
    index = FakeIndex()
    articles = ArticleIndexing(
        lambda: FakeUnitOfWork(database),
        DocumentIndexer(index, chunk_chars=1200, overlap_chars=200),
        consumer="ingestion:articles",
        parser=PageWorkers(0),
        max_body_bytes=10_000,
    )
    article = ArticleChanged(
        account_id="acct",
        article_id="huge",
        url="https://help.test/huge",
        body_html="<p>" + "word " * 5_000 + "</p>",
        updated_at=datetime.now(UTC),
    )
    event = make_event(ARTICLE_PUBLISHED, article, source="kb", account_id="acct")

    with pytest.raises(ArticleNotIndexedError) as raised:
        await articles.handle(event)

    assert classify(raised.value).kind is FailureKind.PERMANENT
    [status] = [e.data for topic, _, e in database.published if topic == SOURCES_STATUS]
    assert isinstance(status, SourceStatus)
    assert status.source_id == IMPLICIT_KB_SOURCE
    assert status.state is SourceState.READY
    assert status.error is not None
    assert "'huge' was not indexed" in status.error
    assert "more than the 10,000" in status.error
    assert [failure.url for failure in status.recent_failures] == ["https://help.test/huge"]
    assert index.chunks == {}
    assert database.claimed == set()  # not claimed: a replay of the dead letter is handled again
