"""Repositories over ingestion's tables; they use the unit of work's session and never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.sources import SourceKind, SourceState
from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ingestion_service.adapters.orm import documents_table, sources_table
from ingestion_service.domain.model import IndexedDocument, Source

_SOURCE_FIELDS = [f.name for f in fields(Source)]
_DOCUMENT_FIELDS = [f.name for f in fields(IndexedDocument)]


def _source(row: Any) -> Source:
    values = {name: row[name] for name in _SOURCE_FIELDS}
    return Source(**{**values, "kind": SourceKind(row["kind"]), "state": SourceState(row["state"])})


def _source_row(source: Source) -> dict[str, Any]:
    values = {name: getattr(source, name) for name in _SOURCE_FIELDS}
    return {**values, "kind": SourceKind(source.kind).value, "state": SourceState(source.state).value}


_INSERT_DOCUMENTS = insert(documents_table)
_UPSERT_DOCUMENTS = _INSERT_DOCUMENTS.on_conflict_do_update(
    constraint="pk_documents",
    set_={
        name: _INSERT_DOCUMENTS.excluded[name]
        for name in _DOCUMENT_FIELDS
        if name not in {"account_id", "source_id", "document_id"}
    },
)


class SourceRepository:
    """Sources of all accounts."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, account_id: str, source_id: str, *, for_update: bool = False) -> Source | None:
        """One source, optionally locked for this transaction."""
        query = select(sources_table).where(
            sources_table.c.account_id == account_id, sources_table.c.source_id == source_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return _source(row) if row else None

    async def save(self, source: Source) -> None:
        """Insert or replace a source."""
        values = _source_row(source)
        statement = insert(sources_table).values(**values)
        keys = {"account_id", "source_id"}
        await self._session.execute(
            statement.on_conflict_do_update(
                constraint="pk_sources", set_={k: statement.excluded[k] for k in values if k not in keys}
            )
        )

    async def knowledge_base_source(self, account_id: str) -> Source | None:
        """The account's registered knowledge-base source, if any (the oldest live one)."""
        row = (
            (
                await self._session.execute(
                    select(sources_table)
                    .where(
                        sources_table.c.account_id == account_id,
                        sources_table.c.kind == "knowledge_base",
                        sources_table.c.state != "deleted",
                    )
                    .order_by(sources_table.c.source_id)
                    .limit(1)
                )
            )
            .mappings()
            .first()
        )
        return _source(row) if row else None

    async def removed_knowledge_base(self, account_id: str) -> Source | None:
        """The knowledge-base source the account's admin removed last, if no knowledge base is live."""
        rows = (
            (
                await self._session.execute(
                    select(sources_table).where(
                        sources_table.c.account_id == account_id, sources_table.c.kind == "knowledge_base"
                    )
                )
            )
            .mappings()
            .all()
        )
        if not rows or any(row["state"] != "deleted" for row in rows):
            return None
        newest = max(rows, key=lambda row: row["sync_requested_at"] or datetime.min.replace(tzinfo=UTC))
        return _source(newest)

    async def pending_syncs(self, kind: SourceKind = SourceKind.URL) -> list[tuple[str, str]]:
        """Sources of ``kind`` whose sync was requested but not finished (to resume after a restart): websites
        pending or syncing, uploaded files waiting for their parse (on a pending source: ``Source.await_file``).
        Read through ``ix_sources_state`` (state, kind): those are few of all sources."""
        table = sources_table
        waiting = [table.c.state.in_(("pending", "syncing")), table.c.kind == kind.value]
        if kind is SourceKind.FILE:
            waiting.append(table.c.pending_file.is_not(None))
        rows = await self._session.execute(select(table.c.account_id, table.c.source_id).where(*waiting))
        return [(row.account_id, row.source_id) for row in rows]

    async def due_for_resync(self, now: datetime, limit: int = 100) -> list[tuple[str, str]]:
        """Website sources whose last sync is older than their re-sync interval."""
        interval = func.make_interval(0, 0, 0, 0, sources_table.c.resync_interval_hours)
        rows = await self._session.execute(
            select(sources_table.c.account_id, sources_table.c.source_id)
            .with_for_update(skip_locked=True)  # replicas ticking together pick disjoint sources
            .where(
                sources_table.c.kind == "url",
                sources_table.c.state.in_(("ready", "failed")),
                or_(
                    sources_table.c.last_synced_at.is_(None),
                    sources_table.c.last_synced_at + interval <= now,
                ),
            )
            .limit(limit)
        )
        return [(row.account_id, row.source_id) for row in rows]

    async def short_of_vectors(self) -> list[tuple[str, str]]:
        """Live sources whose stored count of chunks with a vector is below their chunks."""
        rows = await self._session.execute(
            select(sources_table.c.account_id, sources_table.c.source_id).where(
                sources_table.c.state != "deleted", sources_table.c.embedded_chunks < sources_table.c.chunks
            )
        )
        return [(row.account_id, row.source_id) for row in rows]

    async def record_status(self, account_id: str, source_id: str, **values: Any) -> tuple[int, int]:
        """Update the reported columns and increment the status sequence (monotonic per source).

        Returns the new sequence and the stored count of chunks with a vector.
        """
        result = await self._session.execute(
            update(sources_table)
            .where(sources_table.c.account_id == account_id, sources_table.c.source_id == source_id)
            .values(**values, status_sequence=sources_table.c.status_sequence + 1)
            .returning(sources_table.c.status_sequence, sources_table.c.embedded_chunks)
        )
        sequence, embedded = result.one()
        return int(sequence), int(embedded)

    async def set_fields(self, account_id: str, source_id: str, **values: Any) -> None:
        """Update some columns of one source."""
        await self._session.execute(
            update(sources_table)
            .where(sources_table.c.account_id == account_id, sources_table.c.source_id == source_id)
            .values(**values)
        )


class DocumentRepository:
    """Documents (and crawl state) of all sources."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def for_source(self, account_id: str, source_id: str) -> dict[str, IndexedDocument]:
        """Every document of a source by document id."""
        rows = (
            (
                await self._session.execute(
                    select(documents_table).where(
                        documents_table.c.account_id == account_id, documents_table.c.source_id == source_id
                    )
                )
            )
            .mappings()
            .all()
        )
        return {row["document_id"]: IndexedDocument(**{n: row[n] for n in _DOCUMENT_FIELDS}) for row in rows}

    async def get(self, account_id: str, source_id: str, document_id: str) -> IndexedDocument | None:
        """One document."""
        row = (
            (
                await self._session.execute(
                    select(documents_table).where(
                        documents_table.c.account_id == account_id,
                        documents_table.c.source_id == source_id,
                        documents_table.c.document_id == document_id,
                    )
                )
            )
            .mappings()
            .first()
        )
        return IndexedDocument(**{n: row[n] for n in _DOCUMENT_FIELDS}) if row else None

    async def save_many(self, records: Sequence[IndexedDocument]) -> None:
        """Insert or replace documents."""
        if not records:
            return
        # One statement executed for many rows: compiled once and cached (a VALUES list per batch was
        # compiled anew every time: ~8 ms of CPU per 20 records).
        rows = [{name: getattr(record, name) for name in _DOCUMENT_FIELDS} for record in records]
        await self._session.execute(_UPSERT_DOCUMENTS, rows)

    async def delete(self, account_id: str, source_id: str, document_ids: Iterable[str] | None = None) -> None:
        """Delete some documents of a source (all of them when ``document_ids`` is None)."""
        condition = and_(documents_table.c.account_id == account_id, documents_table.c.source_id == source_id)
        if document_ids is not None:
            ids = list(document_ids)
            if not ids:
                return
            condition = and_(condition, documents_table.c.document_id.in_(ids))
        await self._session.execute(delete(documents_table).where(condition))

    async def totals(self, account_id: str, source_id: str) -> tuple[int, int]:
        """(documents with chunks, chunks) of a source."""
        row = (
            await self._session.execute(
                select(
                    func.count().filter(documents_table.c.chunk_count > 0),
                    func.coalesce(func.sum(documents_table.c.chunk_count), 0),
                ).where(documents_table.c.account_id == account_id, documents_table.c.source_id == source_id)
            )
        ).one()
        return int(row[0]), int(row[1])
