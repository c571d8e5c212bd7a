"""Ledger writes inside one unit of work: lock the account, open it, apply due resets,
append entries, cache the balance and stage the credit state — all in one transaction.

The credits used a state carries (``used_this_period``, ``usage_by_day``) are read from the ledger (once per
account and transaction, the charges and refunds appended after added in memory: ``LedgerRepository``), not carried
over from the account row: a cache would keep what a billing of the previous release charged without updating it,
or a hand-fixed ledger row, out of every later state.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial

from customer_agent_shared.events.billing import (
    CREDITS_EXHAUSTED,
    CREDITS_RESTORED,
    CREDITS_STATE,
    CreditLedgerEntry,
    CreditPlan,
    CreditState,
)
from customer_agent_shared.events.envelope import derived_event_id, make_event
from customer_agent_shared.topics import BILLING_CREDIT_STATE

from billing_service.domain.ledger import (
    CreditAccount,
    Decision,
    EntryKind,
    Transition,
    apply_due_reset,
    open_account,
    record_refund,
    record_usage,
)
from billing_service.domain.pricing import usage_cause
from billing_service.handlers.types import BillingUnitOfWorkProtocol
from billing_service.metrics import observe_decision

SOURCE = "billing"

_EVENT_TYPES = {Transition.EXHAUSTED: CREDITS_EXHAUSTED, Transition.RESTORED: CREDITS_RESTORED}


@dataclass(frozen=True)
class LedgerPolicy:
    """Service-wide ledger settings: the plan new accounts get and how much history states carry."""

    default_plan: CreditPlan
    history_entries: int = 10


class LedgerTransaction:
    """The ledger operations of one unit of work; each decision is counted in the metrics once it commits."""

    def __init__(self, uow: BillingUnitOfWorkProtocol, policy: LedgerPolicy, now: datetime) -> None:
        self._uow = uow
        self._policy = policy
        self.now = now
        self.applied: list[Decision] = []

    async def lock_account(self, account_id: str) -> CreditAccount:
        """Lock the account row (creating the account with the default plan if new), then apply a due reset."""
        account = await self._uow.accounts.lock(account_id)
        if account is None:
            opening = open_account(account_id, self._policy.default_plan, self.now)
            if await self._uow.accounts.insert_if_absent(opening.account):
                await self._record(0, opening)
            account = await self._uow.accounts.lock(account_id)
            if account is None:  # pragma: no cover - the row exists after insert
                raise RuntimeError(f"account {account_id} vanished while being opened")
        return await self.apply(account, apply_due_reset(account, self.now))

    @asynccontextmanager
    async def savepoint(self) -> AsyncIterator[None]:
        """Ledger operations that may fail alone: on an error what they wrote, staged and applied is undone
        and the error raised; the transaction's other operations stand."""
        applied = len(self.applied)
        try:
            async with self._uow.savepoint():
                yield
        except BaseException:
            del self.applied[applied:]
            raise

    async def apply(self, before: CreditAccount, decision: Decision) -> CreditAccount:
        """Persist a decision taken on the locked ``before`` state; return the new state."""
        if not decision.changed:
            return before
        account = await self._record(before.balance, decision)
        await self._uow.accounts.save(account)
        return account

    async def charge_thread(self, account: CreditAccount, thread_id: str) -> tuple[CreditAccount, bool]:
        """Charge the plan's credits for a thread, once whatever happens; the new state, and False when the
        thread was charged before (by a conversation on it that billing has since forgotten)."""
        cause = usage_cause(thread_id)
        recorded = await self._uow.ledger.recorded(account.account_id, [(EntryKind.USAGE, cause)])
        decision = record_usage(account, cause, account.plan.credits_per_unit, recorded)
        return await self.apply(account, decision), decision.changed

    async def refund_thread(self, account: CreditAccount, thread_id: str) -> CreditAccount:
        """Give back what the thread's usage took, once; nothing when it was never charged."""
        cause = usage_cause(thread_id)
        charge = await self._uow.ledger.find(account.account_id, (EntryKind.USAGE, cause))
        if charge is None or charge.amount >= 0:
            return account
        recorded = await self._uow.ledger.recorded(account.account_id, [(EntryKind.REFUND, cause)])
        decision = record_refund(account, cause, -charge.amount, recorded, charged_at=charge.recorded_at)
        return await self.apply(account, decision)

    async def _record(self, balance_before: int, decision: Decision) -> CreditAccount:
        """Append the decision's entries and stage the state they leave; return that state, with the credits used
        as the ledger now holds them."""
        await self._uow.ledger.append(decision.account.account_id, decision.entries, balance_before, self.now)
        account = decision.account
        used = await self._uow.ledger.credits_used(account.account_id, period_start=account.period_start, now=self.now)
        account = replace(account, used_this_period=used.this_period)
        history = await self._uow.ledger.recent(account.account_id, self._policy.history_entries)
        state = CreditState(
            account_id=account.account_id,
            balance=account.balance,
            allotment=account.plan.monthly_allotment,
            used_this_period=account.used_this_period,
            purchased_this_period=account.purchased_this_period,
            auto_upgrades_this_period=account.auto_upgrades_this_period,
            reset_at=account.reset_at,
            exhausted=account.exhausted,
            plan=account.plan,
            version=account.version,
            cause=decision.cause,
            period_start=account.period_start,
            recent_entries=[
                CreditLedgerEntry(
                    kind=entry.kind,
                    amount=entry.amount,
                    balance_after=entry.balance_after,
                    cause=entry.cause_id,
                    recorded_at=entry.recorded_at,
                    note=entry.note,
                )
                for entry in history
            ],
            usage_by_day=dict(used.by_day),
        )
        event = make_event(
            _EVENT_TYPES[decision.transition] if decision.transition else CREDITS_STATE,
            state,
            source=SOURCE,
            account_id=account.account_id,
            time=self.now,
            # One id per state version: a re-sent state is recognisably the same one.
            event_id=derived_event_id(account.account_id, f"credit-state:{account.version}"),
        )
        # The topic is compacted: only an account's latest state counts. Within a batch an account's plain
        # state is replaced by its next plain state (a batch of charges publishes one, not one per charge).
        # Exhausted and restored states are never dropped: their type tells routing and admin-api what happened.
        replaceable = (BILLING_CREDIT_STATE, account.account_id) if decision.transition is None else None
        await self._uow.publish(BILLING_CREDIT_STATE, account.account_id, event, state_key=replaceable)
        self.applied.append(decision)
        # Counted at the real commit: in a batch, a joined commit only flushes, and a batch that fails is rolled
        # back and redone event by event, so counting here or after the joined commit would count it twice.
        self._uow.after_commit(partial(observe_decision, decision))
        return account
