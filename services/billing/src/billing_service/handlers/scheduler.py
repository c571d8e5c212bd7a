"""Use case: time-driven ledger work that must happen without traffic.

Each pass applies the due monthly resets (publishing ``credits.restored`` when a reset
lifts an exhausted account), charges per-resolution threads that stayed quiet for the
plan's resolution hours, and forgets long-quiet threads. Whether it succeeds or fails (then
counted), it refreshes the exhausted and due-for-reset gauges in a transaction of their own,
so a pass failing every time shows the accounts it leaves due. Resets, then quiet charges, go
batch after batch while full batches come back, for at most ``pass_seconds``; a pass that
stops for time is followed by the next at once. Every replica runs the loop: a batch
locks its accounts with SKIP LOCKED, so replicas share the due accounts instead of
queueing on the same rows, and the ledger's unique causes make any overlap harmless. Each
reset runs in a savepoint, where the account's stored plan is read too: one that fails (a plan
that does not validate, say) is logged, counted and skipped until the next pass, and the rest
of its batch commits. Each quiet charge runs in a transaction of its own: one that fails is
logged, counted and skipped until the next pass, with every thread of its account when the
account itself could not be read, and the charges after it and the forgetting go on. A failing
database (a lost connection, a deadlock) fails the whole pass instead: it would fail every one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.messaging.failures import FailureKind, classify
from customer_agent_shared.periodic import Periodic
from prometheus_client import Counter

from billing_service.clock import Clock
from billing_service.domain.pricing import quietly_resolved, resolution_moment
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.types import UnitOfWorkFactory
from billing_service.metrics import (
    ACCOUNTS_DUE_FOR_RESET,
    EXHAUSTED_ACCOUNTS,
    QUIET_CHARGE_FAILURES,
    RESET_FAILURES,
    SCHEDULER_PASS_FAILURES,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SchedulerPass:
    """What one pass did."""

    changed: int
    """Accounts reset, threads charged and threads forgotten."""
    unfinished: bool
    """Due resets or quiet charges were left when the pass ran out of time: the next pass starts at once."""


@dataclass(frozen=True)
class _Batch:
    """What one batch of resets or quiet charges did."""

    fetched: int
    done: int
    failed: int


@dataclass
class _QuietSkips:
    """What a pass charges no more: threads whose charge failed, and accounts that could not be read."""

    accounts: set[str] = field(default_factory=set)
    threads: set[tuple[str, str]] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.accounts) + len(self.threads)


class UnreadableAccountError(Exception):
    """The account of a quiet charge could not be locked and read (its stored plan, say): its other
    threads would fail the same way. Caused by a failing database, it fails the pass (``failing_alone``)."""


@dataclass
class StepFailure:
    """What ``failing_alone`` caught of one step of a pass: its error, None when it went through."""

    error: Exception | None = None

    def __bool__(self) -> bool:
        return self.error is not None

    def skip(self, message: str, failures: Counter, **extra: object) -> None:
        """Log the error with ``extra`` and count it in ``failures``: the step waits for the next pass."""
        logger.error(message, exc_info=self.error, extra=extra, stacklevel=2)  # logged as from the step
        failures.inc()


@contextmanager
def failing_alone() -> Iterator[StepFailure]:
    """Run one step of a pass (an account's reset, a thread's charge) that may fail on its own: its error is kept
    in the ``StepFailure`` yielded and the pass goes on (or the caller raises its own error from it). A failing
    database (a transient error) is raised instead: it would fail every step."""
    failure = StepFailure()
    try:
        yield failure
    except Exception as error:
        if classify(error).kind is FailureKind.TRANSIENT:
            raise
        failure.error = error


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
        pass_seconds: float = 10.0,
        thread_retention: timedelta = timedelta(days=90),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._clock = clock
        self._batch_size = batch_size
        self._pass_seconds = pass_seconds
        self._thread_retention = thread_retention
        # A stop is not a cancel: the running pass ends after its current batch (it checks ``stopping``).
        self.periodic = Periodic(
            "billing scheduler pass",
            self._drain,
            interval_seconds=interval_seconds,
            first_at_start=True,
            finish_on_stop=True,
        )

    async def _drain(self) -> None:
        """Passes one after another while they run out of time with due resets left; a failed one raises (the
        periodic task logs it and waits an interval)."""
        while (await self.run_pass()).unfinished and not self.periodic.stopping:
            pass

    async def run_once(self) -> int:
        """One pass; return how many accounts or threads it changed."""
        return (await self.run_pass()).changed

    async def run_pass(self) -> SchedulerPass:
        """One pass: the due resets (for at most ``pass_seconds``), quiet resolutions, forgetting, then the
        gauges, refreshed even when the pass fails (it is then counted and its error raised)."""
        now = self._clock()
        try:
            outcome = await self._work(now)
        except Exception:
            SCHEDULER_PASS_FAILURES.inc()
            await self._refresh_gauges(now)
            raise
        await self._refresh_gauges(now)
        return outcome

    async def _work(self, now: datetime) -> SchedulerPass:
        deadline = time.monotonic() + self._pass_seconds
        failed_resets: set[str] = set()  # not tried again in this pass: they would come back first in every batch
        resets, resets_left = await self._in_batches(partial(self._reset_batch, now, failed_resets), deadline=deadline)
        # Charges too: the failed ones are passed over, or a batch of them would hold back the threads after it.
        quiet_skips = _QuietSkips()
        charged, charges_left = await self._in_batches(partial(self._quiet_batch, now, quiet_skips), deadline=deadline)
        async with self._unit_of_work() as uow:
            # Quiet resolutions above ran first, so a thread is only forgotten long after it could be charged.
            forgotten = await uow.threads.forget_quiet(now - self._thread_retention, self._batch_size * 10)
            await uow.commit()
        if forgotten:
            logger.info("quiet threads forgotten", extra={"threads": forgotten})
        return SchedulerPass(changed=resets + charged + forgotten, unfinished=resets_left or charges_left)

    async def _in_batches(self, run_batch: Callable[[], Awaitable[_Batch]], *, deadline: float) -> tuple[int, bool]:
        """Run batches while full ones come back and time is left; (how many they changed, whether some may be
        left for lack of time)."""
        done = 0
        while True:
            batch = await run_batch()
            done += batch.done
            if batch.fetched < self._batch_size or not (batch.done or batch.failed):  # none left, or none doable
                return done, False
            if time.monotonic() >= deadline or self.periodic.stopping:
                return done, True

    async def _refresh_gauges(self, now: datetime) -> None:
        """Count the exhausted and due accounts in a transaction of their own; when that fails too (the
        database is down), the gauges keep their last values and the failed passes counter tells."""
        try:
            async with self._unit_of_work() as uow:
                counts = await uow.accounts.count(now)
        except Exception:
            logger.warning("billing scheduler gauges not refreshed", exc_info=True)
            return
        EXHAUSTED_ACCOUNTS.set(counts.exhausted)
        ACCOUNTS_DUE_FOR_RESET.set(counts.due_for_reset)

    async def _reset_batch(self, now: datetime, failed: set[str]) -> _Batch:
        """Reset a batch of due accounts, other than ``failed``, in one transaction; add those that fail."""
        failed_before = len(failed)
        async with self._unit_of_work() as uow:
            ledger = LedgerTransaction(uow, self._policy, self._clock())
            due = await uow.accounts.lock_due_for_reset(now, self._batch_size, skip=failed)
            for account_id in due:
                if not await self._reset_alone(ledger, account_id):
                    failed.add(account_id)
            await uow.commit()
        if ledger.applied:
            logger.info("credits reset", extra={"accounts": len(ledger.applied)})
        return _Batch(fetched=len(due), done=len(ledger.applied), failed=len(failed) - failed_before)

    async def _reset_alone(self, ledger: LedgerTransaction, account_id: str) -> bool:
        """Apply the account's due reset in a savepoint; False (logged and counted) when it failed, the rest of
        the batch going on. A database that is failing fails the whole batch: it would fail every reset."""
        with failing_alone() as failure:
            async with ledger.savepoint():
                await ledger.lock_account(account_id)  # applies the due reset under the row lock
        if failure:
            message = "credits reset failed; the account is skipped until the next pass"
            failure.skip(message, RESET_FAILURES, account_id=account_id)
        return not failure

    async def _quiet_batch(self, now: datetime, skips: _QuietSkips) -> _Batch:
        """Charge a batch of quiet threads, other than ``skips``, each in its own transaction; add those that fail."""
        async with self._unit_of_work() as uow:
            quiet = await uow.threads.quiet_resolutions(
                now, self._batch_size, skip_accounts=skips.accounts, skip_threads=skips.threads
            )
        skipped_before, charged = len(skips), 0
        for account_id, thread_id in quiet:
            if account_id not in skips.accounts:  # else its account failed at an earlier thread of this batch
                charged += await self._charge_alone(account_id, thread_id, skips)
        return _Batch(fetched=len(quiet), done=charged, failed=len(skips) - skipped_before)

    async def _charge_alone(self, account_id: str, thread_id: str, skips: _QuietSkips) -> bool:
        """``resolve_quiet_thread``; False (logged, counted and added to ``skips``) when it failed for this thread
        or its account. A database that is failing fails the whole pass: it would fail every charge."""
        with failing_alone() as failure:
            charged = await self.resolve_quiet_thread(account_id, thread_id)
        if not failure:
            return charged
        whole_account = isinstance(failure.error, UnreadableAccountError)
        failure.skip(
            "quiet charge failed; skipped until the next pass",
            QUIET_CHARGE_FAILURES,
            account_id=account_id,
            thread_id=thread_id,
            whole_account=whole_account,
        )
        if whole_account:
            skips.accounts.add(account_id)
        else:
            skips.threads.add((account_id, thread_id))
        return False

    async def resolve_quiet_thread(self, account_id: str, thread_id: str) -> bool:
        """Charge a per-resolution thread that stayed quiet long enough, once; ``UnreadableAccountError`` when its
        account cannot be locked and read, whatever the cause (``_charge_alone`` classifies it, once)."""
        async with self._unit_of_work() as uow:
            ledger = LedgerTransaction(uow, self._policy, self._clock())
            try:
                account = await ledger.lock_account(account_id)
            except Exception as error:
                raise UnreadableAccountError(f"{account_id}: {type(error).__name__}: {error}") from error
            facts = await uow.threads.get(account_id, thread_id)
            per_resolution = account.plan.pricing_rule is PricingRule.PER_RESOLUTION
            if not per_resolution or not quietly_resolved(facts, ledger.now, account.plan.resolution_hours):
                await uow.commit()
                return False
            _, charged_now = await ledger.charge_thread(account, thread_id)
            # As in metering: a charge from a forgotten conversation has no resolution moment to refund from.
            resolved_at = resolution_moment(facts, account.plan.resolution_hours) if charged_now else None
            await uow.threads.save(account_id, thread_id, replace(facts, charged=True, resolved_at=resolved_at))
            await uow.commit()
        return True
