"""Use case: time-driven ledger work that must happen without traffic.

Each pass applies every due monthly reset (publishing ``credits.restored`` when a reset
lifts an exhausted account), charges per-resolution threads that stayed quiet for the
plan's resolution hours, and refreshes the exhausted-accounts gauge. Every replica runs
the loop; the account row lock and the ledger's unique causes make concurrent passes safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import replace
from datetime import timedelta

from customer_agent_shared.events.billing import PricingRule

from billing_service.clock import Clock
from billing_service.domain.pricing import quietly_resolved, resolution_moment
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.types import UnitOfWorkFactory
from billing_service.metrics import EXHAUSTED_ACCOUNTS

logger = logging.getLogger(__name__)


class BillingScheduler:
    """Runs due resets and quiet resolutions, and forgets long-quiet threads, every ``interval_seconds``."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        *,
        policy: LedgerPolicy,
        clock: Clock,
        interval_seconds: float,
        batch_size: int = 200,
        thread_retention: timedelta = timedelta(days=90),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._clock = clock
        self._interval = interval_seconds
        self._batch_size = batch_size
        self._thread_retention = thread_retention
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run the loop in the background."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="billing-scheduler")

    async def stop(self) -> None:
        """Finish the current pass and stop."""
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.run_once()
            except Exception:
                logger.exception("billing scheduler pass failed; retrying next interval")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), timeout=self._interval)

    async def run_once(self) -> int:
        """One pass; return how many accounts or threads it changed."""
        changed = 0
        now = self._clock()
        async with self._unit_of_work() as uow:
            due = await uow.accounts.due_for_reset(now, self._batch_size)
            quiet = await uow.threads.quiet_resolutions(now, self._batch_size)
        for account_id in due:
            changed += await self.reset_account(account_id)
        for account_id, thread_id in quiet:
            changed += await self.resolve_quiet_thread(account_id, thread_id)
        async with self._unit_of_work() as uow:
            EXHAUSTED_ACCOUNTS.set(await uow.accounts.count_exhausted())
            # Quiet resolutions above ran first, so a thread is only forgotten long after it could be charged.
            forgotten = await uow.threads.forget_quiet(now - self._thread_retention, self._batch_size * 10)
            await uow.commit()
        if forgotten:
            logger.info("quiet threads forgotten", extra={"threads": forgotten})
        return changed + forgotten

    async def reset_account(self, account_id: str) -> bool:
        """Apply the account's due reset (if another replica did not already)."""
        async with self._unit_of_work() as uow:
            ledger = LedgerTransaction(uow, self._policy, self._clock())
            await ledger.lock_account(account_id)  # applies the due reset under the row lock
            await uow.commit()
        if ledger.applied:
            logger.info("credits reset", extra={"account_id": account_id})
        return bool(ledger.applied)

    async def resolve_quiet_thread(self, account_id: str, thread_id: str) -> bool:
        """Charge a per-resolution thread that stayed quiet long enough, once."""
        async with self._unit_of_work() as uow:
            ledger = LedgerTransaction(uow, self._policy, self._clock())
            account = await ledger.lock_account(account_id)
            facts = await uow.threads.get(account_id, thread_id)
            per_resolution = account.plan.pricing_rule is PricingRule.PER_RESOLUTION
            if not per_resolution or not quietly_resolved(facts, ledger.now, account.plan.resolution_hours):
                await uow.commit()
                return False
            await ledger.charge_thread(account, thread_id)
            resolved_at = resolution_moment(facts, account.plan.resolution_hours)
            await uow.threads.save(account_id, thread_id, replace(facts, charged=True, resolved_at=resolved_at))
            await uow.commit()
        return True
