"""Bodies of the content source endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from admin_api.adapters.repositories import Row
from admin_api.domain.sources import source_progress
from admin_api.entrypoints.http.models.common import ApiModel, examples


class UrlSourceCreate(ApiModel):
    """A web page to crawl; with import_related, linked pages on the same domain too (at most 1,000)."""

    model_config = examples({"kind": "url", "url": "https://help.example.com/", "import_related": True})

    kind: Literal["url"]
    url: str = Field(min_length=1, max_length=2048, description="Absolute http(s) URL.")
    import_related: bool = Field(default=False, description="Crawl linked pages on the same domain.")
    citations_enabled: bool = Field(default=True, description="Answers may cite this source.")
    private: bool = Field(default=False, description="Private content is used but never cited.")


class ShortAnswerCreate(ApiModel):
    """A question with the exact answer to give."""

    model_config = examples(
        {"kind": "short_answer", "question": "Do you ship to Norway?", "answer": "Yes, within 3 working days."}
    )

    kind: Literal["short_answer"]
    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=10_000)
    citations_enabled: bool = Field(default=True, description="Answers may cite this source.")


class KnowledgeBaseCreate(ApiModel):
    """The account's knowledge base: articles its help desk announces on content.events.v1 are indexed into it.

    Without one, the first article creates it; once removed, articles are refused until one is added again.
    """

    model_config = examples({"kind": "knowledge_base"})

    kind: Literal["knowledge_base"]
    citations_enabled: bool = Field(default=True, description="Answers may cite the articles.")
    private: bool = Field(default=False, description="Private content is used but never cited.")


SourceCreate = Annotated[UrlSourceCreate | ShortAnswerCreate | KnowledgeBaseCreate, Field(discriminator="kind")]


class SourcePatch(ApiModel):
    """Fields to change; question and answer only for short answers."""

    model_config = examples({"citations_enabled": False}, {"question": "Do you ship to Sweden?", "answer": "Yes."})

    citations_enabled: bool | None = None
    private: bool | None = None
    question: str | None = Field(default=None, min_length=1, max_length=1000)
    answer: str | None = Field(default=None, min_length=1, max_length=10_000)


class PageFailureOut(BaseModel):
    """A page or document that could not be ingested."""

    model_config = examples({"url": "https://help.example.com/old", "error": "HTTP 404"})

    url: str = Field(description="URL or file name.")
    error: str = Field(description="Why it failed.")


class SourceOut(BaseModel):
    """A content source with its ingestion progress."""

    model_config = examples(
        {
            "id": "src_5b1c",
            "kind": "url",
            "state": "syncing",
            "url": "https://help.example.com/",
            "import_related": True,
            "citations_enabled": True,
            "private": False,
            "discovered": 120,
            "fetched": 60,
            "indexed": 55,
            "failed": 1,
            "documents": 55,
            "chunks": 410,
            "embedded_chunks": 160,
            "progress": 0.5,
            "error": None,
            "recent_failures": [{"url": "https://help.example.com/old", "error": "HTTP 404"}],
            "last_synced_at": None,
            "created_at": "2026-11-21T12:00:00Z",
            "updated_at": "2026-11-21T12:01:00Z",
        }
    )

    id: str
    kind: str = Field(description="url, file, short_answer or knowledge_base.")
    state: str = Field(description="pending, syncing, ready or failed.")
    url: str | None = None
    import_related: bool = False
    question: str | None = None
    answer: str | None = None
    filename: str | None = None
    size: int | None = None
    citations_enabled: bool
    private: bool
    discovered: int
    fetched: int
    indexed: int
    failed: int
    documents: int
    chunks: int
    embedded_chunks: int = Field(
        default=0,
        description="Chunks that have their vector of the current embedding model; word search works at once, "
        "vectors follow.",
    )
    progress: float | None = Field(default=None, description="Share of discovered items processed, 0..1.")
    error: str | None = None
    recent_failures: list[PageFailureOut] = Field(
        default_factory=list, description="Some of the latest pages or documents that failed, and why."
    )
    last_synced_at: datetime | None = None
    created_at: datetime
    updated_at: datetime


class SourceList(BaseModel):
    """The account's sources."""

    model_config = examples({"items": []})

    items: list[SourceOut]


def source_out(row: Row) -> SourceOut:
    """A stored source as the API shows it."""
    return SourceOut(
        id=row["id"],
        kind=row["kind"],
        state=row["state"],
        url=row.get("url"),
        import_related=bool(row.get("import_related")),
        question=row.get("question"),
        answer=row.get("answer"),
        filename=row.get("filename"),
        size=row.get("size"),
        citations_enabled=bool(row["citations_enabled"]),
        private=bool(row["private"]),
        discovered=row["discovered"],
        fetched=row["fetched"],
        indexed=row["indexed"],
        failed=row["failed"],
        documents=row["documents"],
        chunks=row["chunks"],
        embedded_chunks=row["embedded_chunks"],
        progress=source_progress(state=row["state"], discovered=row["discovered"], fetched=row["fetched"]),
        error=row.get("error"),
        recent_failures=[PageFailureOut.model_validate(failure) for failure in row.get("recent_failures") or []],
        last_synced_at=row.get("last_synced_at"),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )
