"""Periodic re-sync: website sources whose interval has passed are synced again, and uploaded files left
waiting are taken up (one whose run found another replica's lease, which then stopped, say)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from customer_agent_shared.events.sources import SourceKind, SourceState

from ingestion_service.handlers.sync_runner import SyncRunner
from ingestion_service.handlers.types import UnitOfWorkFactory

logger = logging.getLogger(__name__)


class ResyncScheduler:
    """Looks for due sources every ``interval_seconds`` and hands them to the runner."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        runner: SyncRunner,
        interval_seconds: float,
        *,
        files: SyncRunner | None = None,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._runner = runner
        self._files = files
        self._interval = interval_seconds
        self._task: asyncio.Task[None] | None = None

    async def tick(self, now: datetime | None = None) -> list[tuple[str, str]]:
        """Mark due sources pending and request their sync; return them."""
        async with self._unit_of_work() as uow:
            due = await uow.sources.due_for_resync(now or datetime.now(UTC))
            for account_id, source_id in due:
                await uow.sources.set_fields(account_id, source_id, state=SourceState.PENDING.value)
            await uow.commit()
        for account_id, source_id in due:
            self._runner.request(account_id, source_id)
        if self._files is not None:
            # A file parsing here is only asked once more (a cheap no-op once taken); one parsing on another
            # replica is skipped for its lease; one nobody runs any more is taken.
            await self._files.resume(self._unit_of_work, kind=SourceKind.FILE)
        return due

    async def _loop(self) -> None:
        while True:
            try:
                due = await self.tick()
                if due:
                    logger.info("scheduled re-syncs", extra={"count": len(due)})
            except Exception:
                logger.exception("re-sync scheduling pass failed")
            await asyncio.sleep(self._interval)

    async def start(self) -> None:
        """Run the loop in the background."""
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="resync-scheduler")

    async def stop(self) -> None:
        """Stop the loop."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
