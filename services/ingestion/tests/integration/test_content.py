"""Files, short answers and knowledge-base articles on the real stack; account isolation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from customer_agent_shared.events.content import (
    ARTICLE_DELETED,
    ARTICLE_PUBLISHED,
    ARTICLE_UPDATED,
    ArticleChanged,
)
from customer_agent_shared.events.sources import SOURCE_DELETE, SOURCE_SYNC, SOURCE_UPDATE, SourceKind
from customer_agent_shared.testing.kafka import unique_name
from ingestion_service.bootstrap import IngestionService
from ingestion_service.domain.file_types import SUPPORTED_EXTENSIONS

from .. import samples
from .conftest import article_event, command_event, last_status, phrase_hits, upload, wait_for_source

pytestmark = pytest.mark.integration


async def test_each_file_type_is_indexed_and_found_by_a_phrase(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    for extension in SUPPORTED_EXTENSIONS:
        await ingestion.commands.handle(
            command_event(
                SOURCE_SYNC,
                account_id=account,
                source_id=f"file-{extension}",
                kind=SourceKind.FILE,
                upload=await upload(ingestion, account, f"sample.{extension}", samples.sample(extension)),
            )
        )
    for extension in SUPPORTED_EXTENSIONS:
        record = await wait_for_source(ingestion, account, f"file-{extension}")
        assert (record.state, record.error) == ("ready", None), extension
        hits = await phrase_hits(ingestion, account, samples.phrase_for(extension))
        assert [hit["source_id"] for hit in hits] == [f"file-{extension}"], extension
        assert hits[0]["url"] == f"sample.{extension}"
        assert hits[0]["source_kind"] == "file"


async def parsed_at(ingestion: IngestionService, account_id: str, source_id: str) -> datetime:
    """When the one document of a file source was last parsed and indexed."""
    async with ingestion.unit_of_work() as uow:
        [document] = (await uow.documents.for_source(account_id, source_id)).values()
    assert document.fetched_at is not None
    return document.fetched_at


async def test_resyncing_an_uploaded_file_parses_it_again_from_the_upload_store(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    fields = {"account_id": account, "source_id": "handbook", "kind": SourceKind.FILE}
    handbook = await upload(ingestion, account, "a.txt", samples.sample("txt"))
    await ingestion.commands.handle(command_event(SOURCE_SYNC, **fields, upload=handbook))
    assert (await wait_for_source(ingestion, account, "handbook")).state == "ready"
    parsed_first = await parsed_at(ingestion, account, "handbook")
    # admin-api's resync of a file source names the stored file again (full=True): parsed, indexed, ready.
    await ingestion.commands.handle(command_event(SOURCE_SYNC, **fields, upload=handbook, full=True))
    again = await wait_for_source(ingestion, account, "handbook")
    assert (again.state, again.error) == ("ready", None)
    assert await parsed_at(ingestion, account, "handbook") > parsed_first
    assert (await last_status(ingestion, account, "handbook"))["state"] == "ready"
    assert len(await phrase_hits(ingestion, account, samples.phrase_for("txt"))) == 1
    # A file sent inline (before uploads were stored, or replayed from a dead letter) is indexed; it has no
    # stored file to name, so its resync confirms it.
    older = {**fields, "source_id": "older"}
    inline = samples.inline_upload("b.md", samples.sample("md"))
    await ingestion.commands.handle(command_event(SOURCE_SYNC, **older, file=inline))
    assert (await wait_for_source(ingestion, account, "older")).state == "ready"
    parsed_inline = await parsed_at(ingestion, account, "older")
    await ingestion.commands.handle(command_event(SOURCE_SYNC, **older, full=True))
    assert (await wait_for_source(ingestion, account, "older")).state == "ready"
    assert await parsed_at(ingestion, account, "older") == parsed_inline
    assert len(await phrase_hits(ingestion, account, samples.phrase_for("md"))) == 1
    # A file source that never had content fails with a clear reason.
    await ingestion.commands.handle(command_event(SOURCE_SYNC, **{**fields, "source_id": "empty"}))
    empty = await wait_for_source(ingestion, account, "empty")
    assert (empty.state, empty.error) == ("failed", "a file source needs its uploaded file ('upload')")


async def test_a_file_no_longer_in_the_upload_store_fails_its_source_with_a_clear_reason(
    ingestion: IngestionService,
) -> None:
    account = unique_name("acc")
    handbook = await upload(ingestion, account, "handbook.txt", samples.sample("txt"))
    # Another account's command naming this account's file finds nothing: keys are scoped by account.
    stranger = unique_name("acc")
    await ingestion.commands.handle(
        command_event(SOURCE_SYNC, account_id=stranger, source_id="s", kind=SourceKind.FILE, upload=handbook)
    )
    failed = await wait_for_source(ingestion, stranger, "s")
    reason = "'handbook.txt': the uploaded file is no longer stored (its source was deleted); upload it again"
    assert (failed.state, failed.error) == ("failed", reason)
    assert (await last_status(ingestion, stranger, "s"))["error"] == reason
    assert await ingestion.search.count(stranger, {"match_all": {}}) == 0


@pytest.mark.parametrize(
    ("filename", "content", "reason"),
    [
        ("bomb.docx", samples.zip_bomb_docx(), "zip bomb"),
        ("evil.xml", samples.XXE_XML, "entity declarations and external references are not allowed"),
        ("cut.pdf", samples.truncated_pdf(), "truncated or damaged PDF"),
        ("program.txt", samples.RENAMED_BINARY, "its content is an ELF executable"),
    ],
)
async def test_hostile_files_fail_their_source_with_a_clear_reason(
    ingestion: IngestionService, filename: str, content: bytes, reason: str
) -> None:
    account = unique_name("acc")
    await ingestion.commands.handle(
        command_event(
            SOURCE_SYNC,
            account_id=account,
            source_id="good",
            kind=SourceKind.FILE,
            upload=await upload(ingestion, account, "good.md", samples.sample("md")),
        )
    )
    await ingestion.commands.handle(
        command_event(
            SOURCE_SYNC,
            account_id=account,
            source_id="bad",
            kind=SourceKind.FILE,
            upload=await upload(ingestion, account, filename, content),
        )
    )
    bad = await wait_for_source(ingestion, account, "bad")
    assert bad.state == "failed"
    assert bad.error is not None
    assert reason in bad.error
    assert filename in bad.error
    status = await last_status(ingestion, account, "bad")
    assert status["state"] == "failed"
    assert reason in status["error"]
    assert await ingestion.search.count(account, {"term": {"source_id": "bad"}}) == 0
    # Nothing else is lost: the other source of the account is intact.
    assert len(await phrase_hits(ingestion, account, samples.phrase_for("md"))) == 1


async def test_short_answers_are_question_answer_documents(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    await ingestion.commands.handle(
        command_event(
            SOURCE_SYNC,
            account_id=account,
            source_id="qa",
            kind=SourceKind.SHORT_ANSWER,
            question="Do you ship to Greenland?",
            answer="Yes, every Tuesday by boat.",
        )
    )
    assert (await wait_for_source(ingestion, account, "qa")).state == "ready"
    result = await ingestion.search.search(account, {"match": {"question": "ship Greenland"}})
    sources = [hit["_source"] for hit in result["hits"]["hits"]]
    assert len(sources) == 1
    assert sources[0]["source_kind"] == "short_answer"
    assert sources[0]["answer"] == "Yes, every Tuesday by boat."
    # private + no citations switches every chunk of the source
    await ingestion.commands.handle(
        command_event(
            SOURCE_UPDATE, account_id=account, source_id="qa", kind=SourceKind.SHORT_ANSWER, citations_enabled=False
        )
    )
    hits = await phrase_hits(ingestion, account, "every Tuesday")
    assert [hit["citations_allowed"] for hit in hits] == [False]


async def test_knowledge_base_articles_follow_their_events(ingestion: IngestionService) -> None:
    account = unique_name("acc")
    now = datetime.now(UTC)

    def article(body: str, at: datetime) -> ArticleChanged:
        return ArticleChanged(
            account_id=account,
            article_id="a1",
            url="https://kb.test/a1",
            title="Refunds",
            body_html=f"<h2>How refunds work</h2><p>{body}</p>",
            language="da",
            updated_at=at,
        )

    await ingestion.articles.handle(
        article_event(ARTICLE_PUBLISHED, article("Refunds take five days for the walrus.", now))
    )
    hits = await phrase_hits(ingestion, account, "five days for the walrus")
    assert len(hits) == 1
    assert (hits[0]["title"], hits[0]["section"], hits[0]["source_kind"]) == (
        "Refunds",
        "How refunds work",
        "knowledge_base",
    )
    await ingestion.articles.handle(
        article_event(ARTICLE_UPDATED, article("Refunds now take two days for the walrus.", now + timedelta(minutes=1)))
    )
    # an older update delivered late changes nothing
    await ingestion.articles.handle(article_event(ARTICLE_UPDATED, article("Stale text about a narwhal.", now)))
    assert await phrase_hits(ingestion, account, "five days for the walrus") == []
    assert await phrase_hits(ingestion, account, "stale text about a narwhal") == []
    assert len(await phrase_hits(ingestion, account, "two days for the walrus")) == 1
    await ingestion.articles.handle(article_event(ARTICLE_DELETED, article("", now + timedelta(minutes=2))))
    assert await phrase_hits(ingestion, account, "two days for the walrus") == []
    status = await last_status(ingestion, account, "knowledge-base")
    assert (status["state"], status["documents"]) == ("ready", 0)


async def test_one_accounts_search_never_returns_another_accounts_chunks(ingestion: IngestionService) -> None:
    first, second = unique_name("acc"), unique_name("acc")
    for account in (first, second):
        await ingestion.commands.handle(
            command_event(
                SOURCE_SYNC,
                account_id=account,
                source_id="same-id",
                kind=SourceKind.SHORT_ANSWER,
                question="What is the shared secret?",
                answer=f"The shared secret of {account}.",
            )
        )
        await wait_for_source(ingestion, account, "same-id")
    for account, other in ((first, second), (second, first)):
        hits = await phrase_hits(ingestion, account, "shared secret")
        assert hits
        assert {hit["account_id"] for hit in hits} == {account}
        assert all(other not in hit["body"] for hit in hits)
    with pytest.raises(ValueError, match="account_id is required"):
        await ingestion.search.search("", {"match_all": {}})
    # deleting one account's source leaves the other's alone
    await ingestion.commands.handle(
        command_event(SOURCE_DELETE, account_id=first, source_id="same-id", kind=SourceKind.SHORT_ANSWER)
    )
    await ingestion.store.refresh()
    assert await ingestion.search.count(first) == 0
    assert await ingestion.search.count(second) == 1
