"""Use case: meter credits for the conversations the agent handled."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

from customer_agent_shared.events.conversations import CONVERSATION_EVENT_TYPES, ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent

from billing_service.adapters.unit_of_work import BillingUnitOfWork
from billing_service.clock import Clock
from billing_service.domain.pricing import charge_for_event, observe
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction

logger = logging.getLogger(__name__)


class ConversationMetering:
    """Charges a thread once, when it first becomes chargeable under the account's pricing rule."""

    def __init__(
        self,
        unit_of_work: Callable[[], BillingUnitOfWork],
        *,
        policy: LedgerPolicy,
        clock: Clock,
        consumer: str,
    ) -> None:
        self._unit_of_work = unit_of_work
        self._policy = policy
        self._clock = clock
        self._consumer = consumer

    @property
    def inbox_consumer(self) -> str:
        """The name this use case claims its events under in the inbox."""
        return self._consumer

    async def prepare(self, events: Sequence[CloudEvent[ConversationEvent]]) -> None:
        """Ahead of a batch, inside its transaction: lock its accounts and read its threads' facts, each
        in one statement, so its events find them without a round trip each."""
        billable = [event.data for event in events if event.type in CONVERSATION_EVENT_TYPES and event.data.billable]
        if not billable:
            return
        async with self._unit_of_work() as uow:
            await uow.accounts.lock_many({data.account_id for data in billable})
            await uow.threads.get_many({(data.account_id, data.thread_id) for data in billable})

    async def handle(self, event: CloudEvent[ConversationEvent]) -> bool:
        """Apply one conversation event; False if it was handled before."""
        data = event.data
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                logger.info("conversation event already handled", extra={"event_type": event.type})
                return False
            if event.type not in CONVERSATION_EVENT_TYPES or not data.billable:
                # Other types are not billing's business; preview and test conversations are free.
                await uow.commit()
                return True
            ledger = LedgerTransaction(uow, self._policy, self._clock())
            account = await ledger.lock_account(data.account_id)
            facts = observe(
                await uow.threads.get(data.account_id, data.thread_id),
                event.type,
                billable=data.billable,
                feedback=data.feedback,
                occurred_at=data.occurred_at,
            )
            if charge_for_event(account.plan.pricing_rule, event.type, facts):
                account = await ledger.charge_thread(account, data.thread_id)
                facts = replace(facts, charged=True)
            await uow.threads.save(data.account_id, data.thread_id, facts)
            await uow.commit()
        ledger.observe_metrics()
        return True
