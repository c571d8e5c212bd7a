"""Use cases: meter credits for the conversations the agent handled, from conversation and inbox events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.events.conversations import (
    CONVERSATION_EVENT_TYPES,
    CONVERSATION_RESOLVED,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.events.inbox import ThreadClosed, ThreadReassigned, inbox_event

from billing_service.clock import Clock
from billing_service.domain.pricing import charge_for_event, observe, refund_due
from billing_service.handlers.ledger_writer import LedgerPolicy, LedgerTransaction
from billing_service.handlers.types import UnitOfWorkFactory

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ThreadEvent:
    """What billing reads of any event about a thread."""

    account_id: str
    thread_id: str
    event_type: str
    occurred_at: datetime
    billable: bool = True
    feedback: str | None = None


class _Metering:
    """Charges a thread once, when it first becomes chargeable; takes a resolution back after a late handoff."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
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

    async def _apply(self, event_id: str, event: ThreadEvent | None) -> bool:
        """Claim the event and apply it (``None``: an event billing has nothing to do with); False if seen."""
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event_id):
                logger.info("event already handled", extra={"event_type": event.event_type if event else None})
                return False
            if event is None or not event.billable:
                # Not billing's business; preview and test conversations are free.
                await uow.commit()
                return True
            ledger = LedgerTransaction(uow, self._policy, self._clock())
            account = await ledger.lock_account(event.account_id)
            before = await uow.threads.get(event.account_id, event.thread_id)
            facts = observe(
                before,
                event.event_type,
                billable=event.billable,
                feedback=event.feedback,
                occurred_at=event.occurred_at,
            )
            if refund_due(before, event.event_type, event.occurred_at):
                account = await ledger.refund_thread(account, event.thread_id)
                facts = replace(facts, resolved_at=None)
            rule = account.plan.pricing_rule
            if charge_for_event(rule, event.event_type, facts):
                account, charged_now = await ledger.charge_thread(account, event.thread_id)
                per_resolution = rule is PricingRule.PER_RESOLUTION and event.event_type == CONVERSATION_RESOLVED
                # Only a resolution charged now may be refunded by a handoff before it: an older charge is that of
                # a conversation billing has forgotten, which no handoff heard now preceded.
                refundable = per_resolution and charged_now
                facts = replace(facts, charged=True, resolved_at=event.occurred_at if refundable else None)
            await uow.threads.save(event.account_id, event.thread_id, facts)
            await uow.commit()
        return True


class ConversationMetering(_Metering):
    """Meters conversations.events.v1: answers, handoffs (asked for or made by routing), resolutions, feedback."""

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
        known = event.type in CONVERSATION_EVENT_TYPES
        thread_event = ThreadEvent(
            account_id=data.account_id,
            thread_id=data.thread_id,
            event_type=event.type,
            occurred_at=data.occurred_at,
            billable=data.billable,
            feedback=data.feedback,
        )
        return await self._apply(event.id, thread_event if known else None)


class InboxMetering(_Metering):
    """Meters inbox.events.v1: a person taking a thread (reassigned) makes it no AI resolution, and a person
    closing it ends that (the agent's answer after the close makes the thread the agent's again).

    A close creates no charge: closing is no resolution by the agent.
    """

    async def handle(self, raw: RawCloudEvent) -> bool:
        """Apply one inbox event (a bad one raises ``EventParseError``: dead-lettered); False if seen."""
        event = inbox_event(raw)
        data = event.data
        if isinstance(data, ThreadReassigned | ThreadClosed):
            thread_event = ThreadEvent(
                account_id=data.account_id,
                thread_id=data.thread_id,
                event_type=event.type,
                occurred_at=event.time,
            )
            return await self._apply(event.id, thread_event)
        return await self._apply(event.id, None)
