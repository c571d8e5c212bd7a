"""Ingestion's entities: a content source with the changes its commands make, and the documents indexed from it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from customer_agent_shared.events.sources import PageFailure, SourceCommand, SourceKind, SourceState

from ingestion_service.domain.progress import SyncProgress

IMPLICIT_KB_SOURCE = "knowledge-base"
"""The source articles go to while the account has registered no knowledge base of its own."""

MAX_TITLE_CHARS = 500

FILE_CLOCK_SKEW = timedelta(minutes=1)
"""How much earlier than the source's file a file command must have been sent to be taken for an older one
replayed: each admin-api replica stamps its commands with its own clock, so a re-upload moments later on a
replica whose clock is behind may carry an earlier time, and it is the admin's latest file."""


@dataclass(frozen=True)
class SourceUpdate:
    """What an update command changed that reaches beyond the source's row."""

    flags_changed: bool
    """Private or citations changed: the indexed chunks carry them."""
    resync: bool
    """A website's address or scope changed: it is crawled again."""


@dataclass
class Source:
    """A content source: what it is, where its sync stands, and the counts it last reported."""

    account_id: str
    source_id: str
    kind: SourceKind
    state: SourceState
    url: str | None = None
    import_related: bool = False
    title: str | None = None
    citations_enabled: bool = True
    private: bool = False
    resync_interval_hours: int = 168
    status_sequence: int = 0
    error: str | None = None
    documents: int = 0
    chunks: int = 0
    embedded_chunks: int = 0
    discovered: int = 0
    fetched: int = 0
    indexed: int = 0
    failed: int = 0
    recent_failures: list[dict[str, str]] | None = None
    sync_requested_at: datetime | None = None
    sync_full: bool = False
    last_synced_at: datetime | None = None
    pending_file: dict[str, Any] | None = None
    """An uploaded file's command waiting for its parse in the background, on a pending file source only:
    ``{"event_id", "command"}``. Set by ``await_file`` alone; a delete and every other sync the source takes drop
    it (an update keeps it: the waiting file is indexed with the new settings)."""
    file_sent_at: datetime | None = None
    """The latest event time of the file commands the source took (its file indexed, refused or waiting); None
    when taken by a release before it was kept (migration 0008 copied it from a waiting file's record)."""

    @classmethod
    def implicit_knowledge_base(cls, account_id: str) -> Source:
        """The source articles of an account without a registered knowledge base belong to."""
        return cls(account_id, IMPLICIT_KB_SOURCE, SourceKind.KNOWLEDGE_BASE, SourceState.READY, title="Knowledge base")

    @classmethod
    def from_command(cls, command: SourceCommand, existing: Source | None) -> Source:
        """The stored source a command applies to, or a new one of the command's kind."""
        return existing or cls(command.account_id, command.source_id, command.kind, SourceState.PENDING)

    @property
    def is_deleted(self) -> bool:
        """The admin removed the source."""
        return self.state == SourceState.DELETED

    def request_sync(self, command: SourceCommand, *, at: datetime) -> None:
        """A website sync was requested: the source waits for the background crawl."""
        self._take(command, SourceState.PENDING, at)

    def await_file(self, command: SourceCommand, event_id: str, *, at: datetime, sent_at: datetime) -> None:
        """An uploaded file was sent at ``sent_at`` (event time): the source waits for its parse in the background."""
        self._take(command, SourceState.PENDING, at)
        self.note_file_sent(sent_at)
        self.pending_file = {"event_id": event_id, "command": command.model_dump(mode="json")}

    def note_file_sent(self, sent_at: datetime) -> None:
        """The source takes a file command sent at ``sent_at`` (event time); ``file_sent_at`` never moves back."""
        if self.file_sent_at is None or sent_at > self.file_sent_at:
            self.file_sent_at = sent_at

    def has_newer_file(self, sent_at: datetime, *, inline: bool) -> bool:
        """Whether the source took a file (indexed, refused or waiting) sent more than ``FILE_CLOCK_SKEW`` after
        ``sent_at``, a file command's event time (``inline``: a file carried in the command)."""
        if self.file_sent_at is None:
            # A file waiting without a time was recorded by a release that kept none: an upload by reference, which
            # admin-api sends only since it stopped sending files inline. Against another upload nothing orders
            # it: the command, arrived later, wins.
            return inline and self.pending_file is not None
        return sent_at < self.file_sent_at - FILE_CLOCK_SKEW

    def passed_over(self, command: SourceCommand, sent_at: datetime) -> str | None:
        """Why the source moved past a sync command sent at ``sent_at`` (event time), or None when it takes it.

        A deleted source takes no command: admin-api never syncs a deleted source again and never reuses its
        id, so any sync arriving after the delete was sent before it (a redelivery, a dead letter replayed).
        A file command sent well before the source's file (``has_newer_file``) is passed over too."""
        if self.is_deleted:
            return "source_deleted"
        uploaded = command.upload or command.file
        if command.kind is SourceKind.FILE and uploaded is not None:
            return "newer_file" if self.has_newer_file(sent_at, inline=command.upload is None) else None
        return None

    def accept(self, command: SourceCommand, *, at: datetime) -> None:
        """The command's content was taken at once (a file, a short answer, a knowledge base)."""
        self._take(command, SourceState.READY, at)

    def refuse(self, command: SourceCommand, reason: str | None, *, at: datetime) -> None:
        """The command cannot be carried out: the source fails with the reason."""
        self._take(command, SourceState.FAILED, at)
        self.error = reason

    def confirm_sync(self, *, at: datetime) -> None:
        """A sync that has nothing new to take (an uploaded file's resync) only confirms the source."""
        self.sync_requested_at = at

    def update(self, command: SourceCommand) -> SourceUpdate:
        """Apply an update command's flags, interval and (for a website) address and scope."""
        flags_changed = (self.private, self.citations_enabled) != (command.private, command.citations_enabled)
        resync = (
            self.kind == SourceKind.URL
            and command.url is not None
            and (command.url != self.url or command.import_related != self.import_related)
        )
        self.private = command.private
        self.citations_enabled = command.citations_enabled
        self.resync_interval_hours = command.resync_interval_hours
        if resync:
            self.url = command.url
            self.import_related = command.import_related
            self.state = SourceState.PENDING
        return SourceUpdate(flags_changed=flags_changed, resync=resync)

    def edit_short_answer(self, question: str) -> None:
        """A short answer's question was edited: it is the source's title."""
        self.title = question.strip()[:MAX_TITLE_CHARS]

    def delete(self) -> None:
        """The admin removed the source."""
        self.state = SourceState.DELETED
        self.pending_file = None

    def reported_progress(self) -> SyncProgress:
        """The sync progress the source last reported, for a report that is not its sync's own."""
        return SyncProgress(
            discovered=self.discovered,
            fetched=self.fetched,
            indexed=self.indexed,
            failed=self.failed,
            recent_failures=[PageFailure.model_validate(failure) for failure in self.recent_failures or []],
        )

    def _take(self, command: SourceCommand, state: SourceState, at: datetime) -> None:
        self.kind = command.kind
        self.state = state
        self.url = command.url
        self.import_related = command.import_related
        self.citations_enabled = command.citations_enabled
        self.private = command.private
        self.resync_interval_hours = command.resync_interval_hours
        self.error = None
        self.sync_full = command.full
        self.sync_requested_at = at
        self.pending_file = None
        uploaded = command.upload or command.file
        if uploaded is not None:
            self.title = uploaded.filename
        elif command.question:
            self.title = command.question[:MAX_TITLE_CHARS]


@dataclass
class IndexedDocument:
    """One indexed document of a source and its crawl state (ETag, Last-Modified, content hash)."""

    account_id: str
    source_id: str
    document_id: str
    url: str
    title: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None
    chunk_count: int = 0
    updated_at: datetime | None = None
    fetched_at: datetime | None = None
    error: str | None = None
    extra: dict[str, Any] | None = None
