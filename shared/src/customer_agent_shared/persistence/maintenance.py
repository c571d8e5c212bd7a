"""Keeps a service's inbox and outbox bounded, in a task of its own (never in the relay loop).

Each run, under a transaction-level advisory lock so that one replica does it at a time:
creates the inbox's partitions for today and the coming days, drops whole day partitions
past the retention, trims the default partition (claims made while no day partition
existed) and removes published outbox rows of older versions, the last two by DELETEs
of at most ``chunk_rows`` rows, each its own short transaction. DDL waits at most
``lock_timeout`` for the table lock, so it never queues the service's claims behind it
for long; what it could not do is done on the next run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from customer_agent_shared.persistence.advisory_locks import try_lock
from customer_agent_shared.persistence.partitions import (
    DEFAULT_PARTITION,
    INBOX_TABLE,
    create_partition_sql,
    day_start,
    days_to_prepare,
    expired_partitions,
    partition_name,
    quoted,
    retention_cutoff,
)

logger = logging.getLogger(__name__)

_CHILDREN = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_namespace n ON n.oid = p.relnamespace "
    "WHERE n.nspname = :schema AND p.relname = :table"
)


@dataclass
class MaintenanceReport:
    """What one run did."""

    created: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    deleted_claims: int = 0
    deleted_outbox_rows: int = 0


class PlumbingMaintenance:
    """Partitions and trims ``processed_events`` and trims published ``outbox`` rows of one schema."""

    def __init__(
        self,
        engine: AsyncEngine,
        schema: str,
        *,
        retention_days: int = 14,
        published_retention_hours: int = 24,
        interval_seconds: float = 3600.0,
        chunk_rows: int = 1000,
        lock_timeout_ms: int = 2000,
    ) -> None:
        self._engine = engine
        self._schema = schema
        self._retention_days = retention_days
        self._published_retention = timedelta(hours=published_retention_hours)
        self._interval_seconds = interval_seconds
        self._chunk_rows = chunk_rows
        self._lock_timeout_ms = lock_timeout_ms
        self._lock_name = f"maintenance:{schema}"
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run now and then every interval, in the background."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name=f"plumbing-maintenance-{self._schema}")

    async def stop(self) -> None:
        """Stop after the current step."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            delay = self._interval_seconds
            try:
                report = await self.run_once()
                if report.created or report.dropped or report.deleted_claims or report.deleted_outbox_rows:
                    logger.info("plumbing maintenance", extra={"schema": self._schema, **vars(report)})
            except Exception:
                logger.exception("plumbing maintenance failed; retrying", extra={"schema": self._schema})
                delay = min(delay, 60.0)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=delay)

    async def run_once(self, now: datetime | None = None) -> MaintenanceReport:
        """One run (``now`` for tests); see the module docstring."""
        now = now or datetime.now(UTC)
        report = MaintenanceReport()
        async with self._engine.begin() as connection:
            if not await try_lock(connection, self._lock_name):
                return report  # another replica is at it
            await connection.execute(text(f"SET LOCAL lock_timeout = {int(self._lock_timeout_ms)}"))
            await self._prepare_partitions(connection, now, report)
            await self._drop_expired_partitions(connection, now, report)
        cutoff = retention_cutoff(now, self._retention_days)
        report.deleted_claims = await self._delete_in_chunks(DEFAULT_PARTITION, "processed_at", cutoff)
        report.deleted_outbox_rows = await self._delete_in_chunks(
            "outbox", "published_at", now - self._published_retention
        )
        return report

    def _name(self, table: str) -> str:
        return f"{quoted(self._schema)}.{quoted(table)}"

    async def _partitions(self, connection: AsyncConnection) -> set[str]:
        rows = await connection.execute(_CHILDREN, {"schema": self._schema, "table": INBOX_TABLE})
        return set(rows.scalars())

    async def _prepare_partitions(self, connection: AsyncConnection, now: datetime, report: MaintenanceReport) -> None:
        existing = await self._partitions(connection)
        for day in days_to_prepare(now.astimezone(UTC).date()):
            if partition_name(day) in existing:
                continue
            # A day whose claims already went to the default partition keeps them there (PostgreSQL refuses a
            # partition whose rows sit in the default one); the default partition is trimmed by DELETE.
            stranded = await connection.scalar(
                text(
                    f"SELECT EXISTS (SELECT 1 FROM {self._name(DEFAULT_PARTITION)} "
                    "WHERE processed_at >= :lower AND processed_at < :upper)"
                ),
                {"lower": day_start(day), "upper": day_start(day + timedelta(days=1))},
            )
            if not stranded:
                await connection.execute(text(create_partition_sql(self._schema, day)))
                report.created.append(partition_name(day))

    async def _drop_expired_partitions(
        self, connection: AsyncConnection, now: datetime, report: MaintenanceReport
    ) -> None:
        names = await self._partitions(connection)
        for name in expired_partitions(names, now=now, retention_days=self._retention_days):
            await connection.execute(text(f"DROP TABLE {self._name(name)}"))
            report.dropped.append(name)

    async def _delete_in_chunks(self, table: str, column: str, cutoff: datetime) -> int:
        """Delete the rows of ``table`` whose ``column`` is before ``cutoff``, ``chunk_rows`` per transaction;
        how many were deleted."""
        name = self._name(table)
        statement = text(
            f"DELETE FROM {name} WHERE ctid = ANY(ARRAY("
            f"SELECT ctid FROM {name} WHERE {quoted(column)} < :cutoff LIMIT :chunk))"
        )
        deleted = 0
        while not self._stopping.is_set():
            async with self._engine.begin() as connection:
                result = await connection.execute(statement, {"cutoff": cutoff, "chunk": self._chunk_rows})
            deleted += result.rowcount
            if result.rowcount < self._chunk_rows:
                break
        return deleted
