"""Retention of a service's own append-only tables (the inbox and outbox have theirs in ``maintenance``).

Each service names its tables, how long their rows are needed and the statement that deletes a batch of
the older ones; a sweep runs them every maintenance interval in a background task of its own (never in a
consumer or the outbox relay), each batch its own short transaction holding a transaction-level advisory
lock per (schema, table), so one replica at a time deletes from a table, and counts what it deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import ColumnElement, Delete, Select, Table, delete, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from customer_agent_shared.observability.metrics import RETENTION_DELETED_ROWS
from customer_agent_shared.periodic import Periodic
from customer_agent_shared.persistence.unit_of_work_protocol import UnitOfWorkProtocol, delete_in_batches

logger = logging.getLogger(__name__)
BATCH_ROWS = 1000


class LockingUnitOfWork(UnitOfWorkProtocol, Protocol):
    """A unit of work that can take a transaction-level advisory lock (``SqlUnitOfWork`` can)."""

    async def try_advisory_lock(self, name: str) -> bool:
        """Take the lock named ``name`` until the transaction ends; False when another transaction holds it."""
        ...


UnitOfWork = TypeVar("UnitOfWork", bound=LockingUnitOfWork)


@dataclass(frozen=True)
class Retention(Generic[UnitOfWork]):
    """One table's retention: ``delete_batch(uow, before, limit)`` deletes at most ``limit`` of its rows that
    are no longer needed at ``before`` (now minus ``keep``) and returns how many it deleted. A table may have
    more than one (rows needed for different reasons); their counts add up."""

    table: str
    keep: timedelta
    delete_batch: Callable[[UnitOfWork, datetime, int], Awaitable[int]]


class RetentionSweep(Generic[UnitOfWork]):
    """Deletes each table's rows past its retention, ``batch`` rows per transaction, every interval."""

    def __init__(
        self,
        service: str,
        unit_of_work: Callable[[], UnitOfWork],
        retentions: Sequence[Retention[UnitOfWork]],
        *,
        schema: str,
        interval_seconds: float,
        batch: int = BATCH_ROWS,
    ) -> None:
        self._service = service
        self._unit_of_work = unit_of_work
        self._retentions = tuple(retentions)
        self._schema = schema
        self._batch = batch
        self.periodic = Periodic(f"{service}-retention", self._sweep, interval_seconds=interval_seconds)

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Delete every table's rows past its retention; how many were deleted, by table. A table that fails
        is logged and left for the next run; the others are still swept."""
        now = now or datetime.now(UTC)
        deleted = {retention.table: 0 for retention in self._retentions}
        for retention in self._retentions:
            try:
                await self._purge(retention, now - retention.keep, deleted)
            except Exception:
                log = {"schema": self._schema, "table": retention.table}
                logger.exception("retention of a table failed; retrying at the next run", extra=log)
        return deleted

    async def _purge(self, retention: Retention[UnitOfWork], before: datetime, deleted: dict[str, int]) -> None:
        lock = f"retention:{self._schema}.{retention.table}"

        async def delete_batch(uow: UnitOfWork) -> int:
            if not await uow.try_advisory_lock(lock):
                return 0  # another replica is sweeping this table
            count = await retention.delete_batch(uow, before, self._batch)
            uow.after_commit(partial(self._count, retention.table, count, deleted))
            return count

        await delete_in_batches(self._unit_of_work, delete_batch, batch=self._batch)

    def _count(self, table: str, count: int, deleted: dict[str, int]) -> None:
        """Count a committed batch (so rows deleted before a later batch fails are counted too)."""
        deleted[table] += count
        RETENTION_DELETED_ROWS.labels(self._service, table).inc(count)

    async def _sweep(self) -> None:
        deleted = await self.run_once()
        for table, count in deleted.items():
            if count:
                logger.info("rows past their retention deleted", extra={"table": table, "count": count})


async def delete_keyed(session: AsyncSession, table: Table, keys: Select[Any]) -> int:
    """Delete the rows of ``table`` whose primary key is among the rows ``keys`` selects; how many."""
    key_columns = tuple(table.primary_key.columns)
    statement: Delete = delete(table).where(tuple_(*key_columns).in_(keys))
    result = await session.execute(statement)
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_before(
    session: AsyncSession, table: Table, *, time_column: ColumnElement[datetime], before: datetime, limit: int
) -> int:
    """Delete at most ``limit`` rows of ``table`` whose ``time_column`` is before ``before`` (an index on it
    lets each batch find them without reading the rows kept); how many."""
    keys = select(*table.primary_key.columns).where(time_column < before).limit(limit)
    return await delete_keyed(session, table, keys)
