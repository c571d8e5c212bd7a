"""Content sources: admin-api keeps what was asked for, sends commands to ingestion through the
outbox, and folds ingestion's progress reports into each source."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.sources import (
    SOURCE_DELETE,
    SOURCE_SYNC,
    SOURCE_UPDATE,
    SourceCommand,
    SourceKind,
    SourceState,
    SourceStatus,
    UploadReference,
)
from customer_agent_shared.topics import SOURCES_COMMANDS
from sqlalchemy import func

from admin_api.adapters.repositories import Row
from admin_api.adapters.unit_of_work import AdminUnitOfWork
from admin_api.domain.errors import Conflict, InvalidRequest, NotFound
from admin_api.domain.files import check_upload
from admin_api.domain.sources import check_source_url, citations_allowed, is_newer_status
from admin_api.handlers.audit import SOURCE, record_change

AUDITED_FIELDS = (
    "id",
    "kind",
    "url",
    "import_related",
    "question",
    "answer",
    "filename",
    "size",
    "citations_enabled",
    "private",
)


def new_source_id() -> str:
    """A fresh source id."""
    return "src_" + uuid.uuid4().hex[:20]


def audit_view(row: Row) -> dict[str, Any]:
    """What the audit log keeps of a source (its definition, not its progress)."""
    return {field: row.get(field) for field in AUDITED_FIELDS if row.get(field) is not None}


def _upload(row: Row) -> UploadReference | None:
    """Where a file source's content is kept (None for other kinds, and for files uploaded before)."""
    if not row.get("upload_sha256"):
        return None
    return UploadReference(
        sha256=row["upload_sha256"],
        filename=row["filename"],
        content_type=row.get("content_type") or "application/octet-stream",
        size=row["size"],
    )


def _command(row: Row, *, full: bool = False) -> SourceCommand:
    return SourceCommand(
        account_id=row["account_id"],
        source_id=row["id"],
        kind=SourceKind(row["kind"]),
        url=row.get("url"),
        import_related=bool(row.get("import_related")),
        upload=_upload(row),
        question=row.get("question"),
        answer=row.get("answer"),
        citations_enabled=bool(row.get("citations_enabled")),
        private=bool(row.get("private")),
        full=full,
    )


async def _send(uow: AdminUnitOfWork, command_type: str, command: SourceCommand) -> None:
    event = make_event(command_type, command, source=SOURCE, account_id=command.account_id)
    await uow.publish(SOURCES_COMMANDS, f"{command.account_id}:{command.source_id}", event)


async def stage_new_source(
    uow: AdminUnitOfWork, account_id: str, actor: str, values: Row, *, source_id: str | None = None
) -> Row:
    """Insert a pending source, stage its first sync command and audit it; return the stored row."""
    source_id = source_id or new_source_id()
    row: Row = {
        "account_id": account_id,
        "id": source_id,
        "import_related": False,
        "citations_enabled": True,
        "private": False,
        "state": SourceState.PENDING.value,
        **dict.fromkeys(("discovered", "fetched", "indexed", "failed", "documents", "chunks", "embedded_chunks"), 0),
        **values,
    }
    row["citations_enabled"] = citations_allowed(requested=row["citations_enabled"], private=row["private"])
    await uow.sources.add(row)
    await _send(uow, SOURCE_SYNC, _command(row))
    await record_change(
        uow,
        account_id=account_id,
        actor=actor,
        action="create",
        target_type="source",
        target_id=source_id,
        before=None,
        after=audit_view(row),
    )
    stored = await uow.sources.get(account_id, source_id)
    assert stored is not None
    return stored


class SourceUseCases:
    """Create, change, resync and delete content sources; fold their status."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork], *, max_upload_bytes: int) -> None:
        self._unit_of_work = unit_of_work
        self._max_upload_bytes = max_upload_bytes

    @property
    def max_upload_bytes(self) -> int:
        """The size limit of uploaded files."""
        return self._max_upload_bytes

    async def _create(self, account_id: str, *, actor: str, values: Row) -> Row:
        async with self._unit_of_work() as uow:
            row = await stage_new_source(uow, account_id, actor, values)
            await uow.commit()
        return row

    async def create_url(
        self, account_id: str, *, actor: str, url: str, import_related: bool, citations_enabled: bool, private: bool
    ) -> Row:
        """Crawl a web page (and, with import_related, linked pages on the same domain)."""
        values = {
            "kind": SourceKind.URL.value,
            "url": check_source_url(url),
            "import_related": import_related,
            "citations_enabled": citations_enabled,
            "private": private,
        }
        return await self._create(account_id, actor=actor, values=values)

    async def create_short_answer(
        self, account_id: str, *, actor: str, question: str, answer: str, citations_enabled: bool
    ) -> Row:
        """A question with the exact answer to give."""
        values = {
            "kind": SourceKind.SHORT_ANSWER.value,
            "question": _required_text(question, "question"),
            "answer": _required_text(answer, "answer"),
            "citations_enabled": citations_enabled,
        }
        return await self._create(account_id, actor=actor, values=values)

    async def create_knowledge_base(
        self, account_id: str, *, actor: str, citations_enabled: bool, private: bool
    ) -> Row:
        """The knowledge base that articles announced on content.events.v1 are indexed into (one per account)."""
        async with self._unit_of_work() as uow:
            await uow.sources.lock_kind(account_id, SourceKind.KNOWLEDGE_BASE.value)
            existing = [row for row in await uow.sources.list(account_id) if row["kind"] == SourceKind.KNOWLEDGE_BASE]
            if existing:
                raise Conflict(f"The account already has a knowledge base: source {existing[0]['id']!r}.")
            values = {
                "kind": SourceKind.KNOWLEDGE_BASE.value,
                "citations_enabled": citations_enabled,
                "private": private,
            }
            row = await stage_new_source(uow, account_id, actor, values)
            await uow.commit()
        return row

    async def upload_file(
        self,
        account_id: str,
        *,
        actor: str,
        filename: str,
        content_type: str,
        content: bytes,
        citations_enabled: bool,
        private: bool,
    ) -> Row:
        """Index an uploaded file: stored in the upload store in the transaction that stages its command,
        which names it by key (ingestion fetches it from there)."""
        check_upload(filename, len(content), self._max_upload_bytes)
        values = {
            "kind": SourceKind.FILE.value,
            "filename": filename,
            "content_type": content_type or "application/octet-stream",
            "size": len(content),
            "citations_enabled": citations_enabled,
            "private": private,
        }
        async with self._unit_of_work() as uow:
            source_id = new_source_id()
            values["upload_sha256"] = await uow.uploads.put(account_id, content, holder=source_id)
            row = await stage_new_source(uow, account_id, actor, values, source_id=source_id)
            await uow.commit()
        return row

    async def list(self, account_id: str) -> list[Row]:
        """The account's sources."""
        async with self._unit_of_work() as uow:
            return await uow.sources.list(account_id)

    async def get(self, account_id: str, source_id: str) -> Row:
        """One source with its progress."""
        async with self._unit_of_work() as uow:
            row = await uow.sources.get(account_id, source_id)
        if row is None:
            raise NotFound(f"Source {source_id!r} does not exist on this account.")
        return row

    async def delete(self, account_id: str, *, actor: str, source_id: str) -> None:
        """Remove a source and ask ingestion to drop its documents."""
        async with self._unit_of_work() as uow:
            row = await _locked(uow, account_id, source_id)
            await uow.sources.update(
                account_id, source_id, {"state": SourceState.DELETED.value, "deleted_at": func.now()}
            )
            await _send(uow, SOURCE_DELETE, _command(row))
            if row.get("upload_sha256"):
                # Ingestion may still be parsing it: a sync that finds it gone fails the (deleted) source.
                await uow.uploads.delete(account_id, row["upload_sha256"], holder=source_id)
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="delete",
                target_type="source",
                target_id=source_id,
                before=audit_view(row),
                after=None,
            )
            await uow.commit()

    async def resync(self, account_id: str, *, actor: str, source_id: str) -> Row:
        """Sync the source again from scratch (a file: parsed again from the upload store)."""
        async with self._unit_of_work() as uow:
            row = await _locked(uow, account_id, source_id)
            await uow.sources.update(account_id, source_id, {"state": SourceState.PENDING.value, "error": None})
            await _send(uow, SOURCE_SYNC, _command(row, full=True))
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="publish",
                target_type="source",
                target_id=source_id,
                before=audit_view(row),
                after=audit_view(row),
            )
            updated = await uow.sources.get(account_id, source_id)
            await uow.commit()
        assert updated is not None
        return updated

    async def update(self, account_id: str, *, actor: str, source_id: str, changes: Row) -> Row:
        """Change citations, privacy, or a short answer's question and answer; changing nothing (no field, or
        the values it has) leaves the source as it is, with no audit entry and no command to ingestion."""
        async with self._unit_of_work() as uow:
            row = await _locked(uow, account_id, source_id)
            values = {key: value for key, value in changes.items() if value is not None}
            if ("question" in values or "answer" in values) and row["kind"] != SourceKind.SHORT_ANSWER.value:
                raise InvalidRequest("Only short answers have a question and an answer to edit.")
            for field in ("question", "answer"):
                if field in values:
                    values[field] = _required_text(values[field], field)
            merged = {**row, **values}
            values["citations_enabled"] = citations_allowed(
                requested=bool(merged["citations_enabled"]), private=bool(merged["private"])
            )
            merged["citations_enabled"] = values["citations_enabled"]
            if all(row.get(key) == value for key, value in values.items()):
                return row
            await uow.sources.update(account_id, source_id, values)
            await _send(uow, SOURCE_UPDATE, _command(merged))
            await record_change(
                uow,
                account_id=account_id,
                actor=actor,
                action="edit",
                target_type="source",
                target_id=source_id,
                before=audit_view(row),
                after=audit_view(merged),
            )
            updated = await uow.sources.get(account_id, source_id)
            await uow.commit()
        assert updated is not None
        return updated

    async def apply_status(self, consumer: str, event_id: str, status: SourceStatus) -> bool:
        """Fold a progress report (older sequences are ignored); True if it changed the source."""
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(consumer, event_id):
                return False
            row = await uow.sources.get_any(status.account_id, status.source_id)
            counts = {
                "state": status.state.value,
                "status_sequence": status.sequence,
                "discovered": status.discovered,
                "fetched": status.fetched,
                "indexed": status.indexed,
                "failed": status.failed,
                "documents": status.documents,
                "chunks": status.chunks,
                "embedded_chunks": status.embedded_chunks,
                "error": status.error,
                "recent_failures": [failure.model_dump(mode="json") for failure in status.recent_failures],
                "last_synced_at": status.last_synced_at,
            }
            if row is None and status.state is SourceState.DELETED:
                applied = False  # gone in ingestion before admin-api ever listed it: nothing to show
            elif row is None:
                # A source ingestion created itself (knowledge-base articles announced on content.events.v1).
                await uow.sources.add(
                    {
                        "account_id": status.account_id,
                        "id": status.source_id,
                        "kind": SourceKind.KNOWLEDGE_BASE.value,
                        "import_related": False,
                        "citations_enabled": True,
                        "private": False,
                        **counts,
                    }
                )
                applied = True
            elif row["deleted_at"] is not None:
                applied = False
                if status.state is SourceState.DELETED and status.error:
                    # Ingestion refused content for a source the admin removed (a later article): say so.
                    await record_change(
                        uow,
                        account_id=status.account_id,
                        actor="ingestion",
                        action="refuse",
                        target_type="source",
                        target_id=status.source_id,
                        before=None,
                        after={"error": status.error},
                    )
            elif not is_newer_status(row["status_sequence"], status.sequence):
                applied = False
            else:
                await _fold_newer_status(uow, status, row=row, counts=counts)
                applied = True
            await uow.commit()
        return applied


async def _fold_newer_status(uow: AdminUnitOfWork, status: SourceStatus, *, row: Row, counts: dict[str, Any]) -> None:
    """Apply a newer report on a listed source; one saying ingestion removed it (a command not from this API)
    removes it here too, releasing its file as the admin's removal does."""
    if status.state is SourceState.DELETED:
        counts["deleted_at"] = datetime.now(UTC)
        if row.get("upload_sha256"):
            await uow.uploads.delete(status.account_id, row["upload_sha256"], holder=status.source_id)
    await uow.sources.update(status.account_id, status.source_id, counts)


async def _locked(uow: AdminUnitOfWork, account_id: str, source_id: str) -> Row:
    row = await uow.sources.get(account_id, source_id, for_update=True)
    if row is None:
        raise NotFound(f"Source {source_id!r} does not exist on this account.")
    return row


def _required_text(value: str, field: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise InvalidRequest(f"The {field} must not be empty.")
    return cleaned
