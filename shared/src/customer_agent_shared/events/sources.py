"""Content source commands (to ingestion) and status (from ingestion)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from customer_agent_shared.events.channels import ContractModel
from customer_agent_shared.events.envelope import Timestamp
from customer_agent_shared.uploads.store import KEY_PATTERN

SOURCE_SYNC = "source.sync"
SOURCE_DELETE = "source.delete"
SOURCE_UPDATE = "source.update"
SOURCE_COMMAND_TYPES = (SOURCE_SYNC, SOURCE_DELETE, SOURCE_UPDATE)
SOURCE_STATUS = "source.status"

# The file types an uploaded file source may have (external contract, DESIGN.md): admin-api refuses
# anything else with a 415, ingestion parses exactly these.
UPLOADABLE_FILE_EXTENSIONS: tuple[str, ...] = (
    "docx",
    "htm",
    "xhtml",
    "cfg",
    "pptx",
    "conf",
    "csv",
    "json",
    "html",
    "text",
    "txt",
    "pdf",
    "rst",
    "xml",
    "md",
)


class SourceKind(StrEnum):
    """Kinds of content source."""

    URL = "url"
    FILE = "file"
    SHORT_ANSWER = "short_answer"
    KNOWLEDGE_BASE = "knowledge_base"


class SourceState(StrEnum):
    """Lifecycle of a source."""

    PENDING = "pending"
    SYNCING = "syncing"
    READY = "ready"
    FAILED = "failed"
    DELETED = "deleted"


class UploadedFile(ContractModel):
    """A file carried inline (base64): what admin-api sent before uploads were stored by reference. No longer
    written; still read, so an older command in a topic or a dead-letter topic can be replayed."""

    filename: str = Field(description="Original file name.")
    content_type: str = Field(default="application/octet-stream", description="Declared MIME type.")
    size: int = Field(ge=0, description="Size in bytes.")
    sha256: str = Field(description="SHA-256 of the content.")
    content_base64: str = Field(description="The file content, base64.")


class UploadReference(ContractModel):
    """A file uploaded to admin-api, kept in the account's upload store: ingestion fetches it by key."""

    sha256: str = Field(
        pattern=KEY_PATTERN, description="SHA-256 of the content (lower-case hex): its key in the upload store."
    )
    filename: str = Field(description="Original file name.")
    content_type: str = Field(default="application/octet-stream", description="Declared MIME type.")
    size: int = Field(ge=0, description="Size in bytes.")


class SourceCommand(ContractModel):
    """Sync, resync, update or delete a content source."""

    account_id: str = Field(description="Account id.")
    source_id: str = Field(description="Source id.")
    kind: SourceKind = Field(description="Source kind.")
    url: str | None = Field(default=None, description="Start URL (kind url).")
    import_related: bool = Field(default=False, description="Crawl linked pages on the same domain.")
    file: UploadedFile | None = Field(
        default=None, description="The file inline (kind file), as older commands carry it; see upload."
    )
    upload: UploadReference | None = Field(default=None, description="The file in the upload store (kind file).")
    question: str | None = Field(default=None, description="Question (kind short_answer).")
    answer: str | None = Field(default=None, description="Answer (kind short_answer).")
    citations_enabled: bool = Field(default=True, description="Answers may cite this source.")
    private: bool = Field(default=False, description="Private content is never cited.")
    resync_interval_hours: int = Field(default=168, ge=1, description="Automatic re-sync period.")
    full: bool = Field(default=False, description="Resync everything, ignoring ETag/Last-Modified.")


class PageFailure(ContractModel):
    """One page or document that could not be ingested."""

    url: str = Field(description="URL or file name.")
    error: str = Field(description="Why it failed.")


class SourceStatus(ContractModel):
    """Progress and state of a content source."""

    account_id: str = Field(description="Account id.")
    source_id: str = Field(description="Source id.")
    state: SourceState = Field(description="pending, syncing, ready, failed or deleted.")
    sequence: int = Field(default=0, ge=0, description="Monotonic per source; older reports are ignored.")
    discovered: int = Field(default=0, ge=0, description="URLs or documents discovered.")
    fetched: int = Field(default=0, ge=0, description="Fetched (or parsed) so far.")
    indexed: int = Field(default=0, ge=0, description="Documents indexed so far.")
    failed: int = Field(default=0, ge=0, description="Documents that failed.")
    documents: int = Field(default=0, ge=0, description="Documents in the index.")
    chunks: int = Field(default=0, ge=0, description="Chunks in the index.")
    embedded_chunks: int = Field(
        default=0, ge=0, description="Chunks that have their vector of the current embedding model."
    )
    error: str | None = Field(default=None, description="Why the source failed, if it did.")
    last_synced_at: Timestamp | None = Field(default=None, description="End of the last sync.")
    recent_failures: list[PageFailure] = Field(default_factory=list, description="Some recent page failures.")
