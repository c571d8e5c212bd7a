"""Retention of a service's own append-only tables (the inbox and outbox have theirs in ``maintenance``).

Each service names its tables, how long their rows are needed and the statement that deletes a batch of
the older ones; a sweep runs them every maintenance interval in a background task of its own (never in a
consumer or the outbox relay), each batch its own short transaction, and counts what it deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Generic

from customer_agent_shared.observability.metrics import RETENTION_DELETED_ROWS
from customer_agent_shared.periodic import Periodic
from customer_agent_shared.persistence.unit_of_work_protocol import UnitOfWork, delete_in_batches

logger = logging.getLogger(__name__)
BATCH_ROWS = 1000


@dataclass(frozen=True)
class Retention(Generic[UnitOfWork]):
    """One table's retention: ``delete_batch(uow, before, limit)`` deletes at most ``limit`` of its rows that
    are no longer needed at ``before`` (now minus ``keep``) and returns how many it deleted."""

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
        interval_seconds: float,
        batch: int = BATCH_ROWS,
    ) -> None:
        self._service = service
        self._unit_of_work = unit_of_work
        self._retentions = tuple(retentions)
        self._batch = batch
        self.periodic = Periodic(f"{service}-retention", self._sweep, interval_seconds=interval_seconds)

    async def run_once(self, now: datetime | None = None) -> dict[str, int]:
        """Delete every table's rows past its retention; how many were deleted, by table."""
        now = now or datetime.now(UTC)
        return {retention.table: await self._purge(retention, now - retention.keep) for retention in self._retentions}

    async def _purge(self, retention: Retention[UnitOfWork], before: datetime) -> int:
        async def delete_batch(uow: UnitOfWork) -> int:
            return await retention.delete_batch(uow, before, self._batch)

        count = await delete_in_batches(self._unit_of_work, delete_batch, batch=self._batch)
        RETENTION_DELETED_ROWS.labels(self._service, retention.table).inc(count)
        return count

    async def _sweep(self) -> None:
        deleted = await self.run_once()
        for table, count in deleted.items():
            if count:
                logger.info("rows past their retention deleted", extra={"table": table, "count": count})
