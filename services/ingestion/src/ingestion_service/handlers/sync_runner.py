"""Background runs of source syncs (websites, uploaded files), shared fairly between accounts.

At most ``max_concurrent`` runs at once, one per source, and at most ``max_per_account`` of one account:
an account with many slow sources waits for its own slots and never holds every slot, so the other
accounts' syncs always find one free.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from customer_agent_shared.events.sources import SourceKind
from prometheus_client import Gauge

from ingestion_service.adapters.metrics import SYNC_BACKLOG
from ingestion_service.adapters.sync_lock import SyncLeases
from ingestion_service.handlers.types import UnitOfWorkFactory

logger = logging.getLogger(__name__)

SourceKey = tuple[str, str]


class SourceJob(Protocol):
    """One background run of a source (a website's crawl, an uploaded file's parse)."""

    async def run(self, account_id: str, source_id: str) -> None:
        """Sync the source now."""


class SyncRunner:
    """Runs a job per source in the background, at most ``max_concurrent`` at once and ``max_per_account``
    of one account (see the module)."""

    def __init__(
        self,
        sync: SourceJob,
        max_concurrent: int,
        leases: SyncLeases | None = None,
        *,
        max_per_account: int | None = None,
        backlog: Gauge = SYNC_BACKLOG,
        name: str = "sync",
    ) -> None:
        self._sync = sync
        self._leases = leases
        self._semaphore = asyncio.Semaphore(max_concurrent)
        self._per_account = max(1, min(max_per_account or max_concurrent, max_concurrent))
        self._accounts: dict[str, asyncio.Semaphore] = {}
        self._tasks: dict[SourceKey, asyncio.Task[None]] = {}
        self._again: set[SourceKey] = set()
        self._backlog = backlog
        self._name = name

    @property
    def share(self) -> int:
        """How many runs one account may have at once."""
        return self._per_account

    def request(self, account_id: str, source_id: str) -> None:
        """Start a sync of the source (or run it once more after the current one)."""
        key = (account_id, source_id)
        task = self._tasks.get(key)
        if task is not None and not task.done():
            self._again.add(key)
            return
        self._tasks[key] = asyncio.create_task(self._run(key), name=f"{self._name}-{account_id}-{source_id}")
        self._backlog.set(len(self._tasks))

    async def _run(self, key: SourceKey) -> None:
        try:
            while True:
                self._again.discard(key)
                # The account's own slot first: while it waits for one it holds none of the shared slots.
                async with self._account_slots(key[0]), self._semaphore:
                    try:
                        await self._run_once(key)
                    except asyncio.CancelledError:
                        raise
                    except Exception:
                        logger.exception(f"{self._name} crashed", extra={"account_id": key[0], "source_id": key[1]})
                if key not in self._again:
                    return
        finally:
            self._tasks.pop(key, None)
            if not any(account == key[0] for account, _ in self._tasks):
                self._accounts.pop(key[0], None)
            self._backlog.set(len(self._tasks))

    def _account_slots(self, account_id: str) -> asyncio.Semaphore:
        slots = self._accounts.get(account_id)
        if slots is None:
            slots = self._accounts[account_id] = asyncio.Semaphore(self._per_account)
        return slots

    async def _run_once(self, key: SourceKey) -> None:
        if self._leases is None:
            await self._sync.run(*key)
            return
        async with self._leases.hold(*key) as held:
            if not held:
                logger.info(f"another replica runs this {self._name}", extra={"source_id": key[1]})
                return
            await self._sync.run(*key)

    def running(self, account_id: str, source_id: str) -> bool:
        """Whether a sync of the source is queued or running."""
        task = self._tasks.get((account_id, source_id))
        return task is not None and not task.done()

    async def wait(self, account_id: str, source_id: str) -> None:
        """Wait until the source's sync (re-runs included) has ended, without cancelling it."""
        task = self._tasks.get((account_id, source_id))
        if task is not None:
            await asyncio.wait([task])

    async def cancel(self, account_id: str, source_id: str) -> None:
        """Stop the source's sync, if any, and wait until it has stopped."""
        key = (account_id, source_id)
        self._again.discard(key)
        task = self._tasks.get(key)
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    async def stop(self) -> None:
        """Cancel every sync (they resume from the database at the next start)."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def resume(self, unit_of_work: UnitOfWorkFactory, *, kind: SourceKind = SourceKind.URL) -> None:
        """Restart syncs of ``kind`` a previous process left pending or unfinished."""
        async with unit_of_work() as uow:
            pending = await uow.sources.pending_syncs(kind)
        for account_id, source_id in pending:
            self.request(account_id, source_id)
