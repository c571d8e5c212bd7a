"""Use case: react to what happened in a conversation (conversations.events.v1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from functools import partial

from customer_agent_shared.events.channels import HandoffReason
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_RESOLVED,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import CloudEvent

from routing_service.domain.decisions import Decision, Situation, decide_handoff_request
from routing_service.domain.handoff import People
from routing_service.handlers.assignment_holds import hold_first
from routing_service.handlers.base import RoutingUseCase
from routing_service.handlers.effects import Cause, carry_out, count_decision, decide_with_people, record_change
from routing_service.handlers.tenancy import require_matching_account
from routing_service.handlers.types import RoutingUnitOfWorkProtocol

logger = logging.getLogger(__name__)

DEFAULT_REASONS = {
    CONVERSATION_CANNOT_ANSWER: HandoffReason.CANNOT_ANSWER,
    CONVERSATION_HANDOFF_REQUESTED: HandoffReason.VISITOR_REQUEST,
}


THREAD_CHANGING = frozenset({*DEFAULT_REASONS, CONVERSATION_RESOLVED})
"""The events whose handling locks their thread: a handoff request, a resolution."""


class HandleConversationEvent(RoutingUseCase):
    """Answers join the transcript; cannot_answer / handoff_requested hand off; resolved closes."""

    async def prepare(self, events: Sequence[CloudEvent[ConversationEvent]]) -> None:
        """Ahead of a batch, inside its transaction: hold the assignments of every account it may hand off in,
        before any thread's row is locked; then lock the threads its events change, in key order
        (``ThreadStore.lock_in_order``): each ``handle`` takes its thread as locked there."""
        # ``handle`` refuses an event naming another account in its data than its envelope: nothing to prepare.
        accepted = [event for event in events if event.accountid == event.data.account_id]
        async with self._unit_of_work() as uow:
            await hold_first(uow, partial(_handing_off, accepted))
            await uow.threads.lock_in_order(
                {(event.data.account_id, event.data.thread_id) for event in accepted if event.type in THREAD_CHANGING}
            )

    async def handle(self, event: CloudEvent[ConversationEvent]) -> Decision | None:
        """Handle one conversation event; the handoff decision when one was taken, else None."""
        data = event.data
        require_matching_account(event)
        decision: Decision | None = None
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return None
            await hold_first(uow, partial(_handing_off, [event]))  # before the thread's row is locked
            if event.type == CONVERSATION_ANSWERED and data.answer:
                await uow.transcripts.record(
                    data.account_id,
                    data.thread_id,
                    entry_key=f"answer:{data.message_id or event.id}",
                    role="agent",
                    text=data.answer,
                    at=data.occurred_at,
                )
            elif event.type in DEFAULT_REASONS:
                decision = await self._hand_off(uow, event)
                if decision is not None:
                    uow.after_commit(partial(count_decision, decision))
            elif event.type == CONVERSATION_RESOLVED:
                await self._close(uow, event)
            await uow.commit()
        return decision

    async def _hand_off(self, uow: RoutingUnitOfWorkProtocol, event: CloudEvent[ConversationEvent]) -> Decision | None:
        data = event.data
        thread = await uow.threads.lock(data.account_id, data.thread_id)
        if thread is None:  # a thread routing never routed (preview, test): nothing to hand off
            return None
        account = await self._directory.get(uow.accounts, data.account_id)
        now = self._clock()  # who is available is judged when routing decides, not when conversation asked
        reason = data.reason or DEFAULT_REASONS[event.type]
        situation = Situation(
            state=thread.state,
            deployment=account.deployment(thread.channel),
            pause=account.pause,
            people=People.of([], [], {}),
            at=now,
        )

        def decide(people: People) -> Decision:
            return decide_handoff_request(replace(situation, people=people), reason)

        decision = await decide_with_people(uow, account, data.account_id, decide)
        locale = data.language or thread.locale
        reply_to = data.message_id or thread.last_message_id or ""
        cause = Cause(event_id=event.id, event_type=event.type, at=now, reply_to=reply_to, locale=locale)
        await carry_out(uow, decision, thread, account, cause)
        await uow.threads.save(thread, now)
        logger.info("handoff requested", extra={"outcome": decision.outcome.value, "state": thread.state.value})
        return decision

    async def _close(self, uow: RoutingUnitOfWorkProtocol, event: CloudEvent[ConversationEvent]) -> None:
        data = event.data
        thread = await uow.threads.lock(data.account_id, data.thread_id)
        change = thread.resolve() if thread is not None else None
        if thread is None or change is None:
            return
        now = self._clock()
        await record_change(uow, thread, change, cause_event_id=event.id, cause_event_type=event.type, at=now)
        await uow.threads.save(thread, now)


async def _handing_off(events: Sequence[CloudEvent[ConversationEvent]]) -> set[str]:
    """The accounts of the handoff requests among ``events``, each of its envelope's account; whether one hands
    off does not depend on a row, so none is read."""
    return {event.data.account_id for event in events if event.type in DEFAULT_REASONS}
