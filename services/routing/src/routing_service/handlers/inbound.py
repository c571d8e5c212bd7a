"""Use case: decide who handles each visitor message (channels.inbound.v1)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from customer_agent_shared.events.channels import MessageReceived
from customer_agent_shared.events.envelope import CloudEvent

from routing_service.adapters.account_cache import AccountView
from routing_service.domain.decisions import Decision, Situation, decide_inbound, may_hand_off
from routing_service.domain.handoff import People
from routing_service.domain.model import RoutedThread
from routing_service.domain.ownership import ThreadState
from routing_service.handlers.assignment_holds import hold_first
from routing_service.handlers.base import RoutingUseCase, keep_prepared, take_prepared
from routing_service.handlers.effects import Cause, carry_out, count_decision, decide_with_people
from routing_service.handlers.tenancy import require_matching_account
from routing_service.handlers.types import RoutingUnitOfWorkProtocol
from routing_service.metrics import DECISION_SECONDS, DUPLICATE_MESSAGES

logger = logging.getLogger(__name__)

MAX_SENT_AT_AGE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class _Judged:
    """A message with its account and whether it names a handoff trigger, each looked up once."""

    message: MessageReceived
    account: AccountView
    trigger_matched: bool


_JUDGED = "inbound.judged"
"""The transaction cache of the messages a batch's ``prepare`` judged, by event id."""


class RouteInboundMessage(RoutingUseCase):
    """One short transaction per message: claim, hold the account's assignments if it may hand off, store,
    lock the thread, decide, stage events, commit.

    A batch decides each message on the account view its ``prepare`` read (the one its holds were foreseen
    from); a configuration folded in between counts from the next batch, as if it had come a moment later."""

    async def prepare(self, events: Sequence[CloudEvent[MessageReceived]]) -> None:
        """Ahead of a batch, inside its transaction: judge each message once (``_judge``, kept for its
        ``handle``), hold the assignments of every account in which one of them hands its thread off
        (``_assigning``), then receive the first message of each of its threads, all in one statement (a later
        message of a thread is received by its own ``handle``), having locked the threads seen before in key
        order (``ThreadStore.lock_in_order``)."""
        # ``handle`` refuses a message naming another account than its event: nothing to prepare for it.
        accepted = [event for event in events if event.accountid == event.data.account_id]
        firsts: dict[tuple[str, str], MessageReceived] = {}
        for event in accepted:
            firsts.setdefault((event.data.account_id, event.data.thread_id), event.data)
        async with self._unit_of_work() as uow:
            judged = {event.id: await self._judge(uow, event.data) for event in accepted}
            for event in accepted:
                keep_prepared(uow, _JUDGED, event.id, source=event.data, value=judged[event.id])
            await hold_first(uow, partial(self._assigning, uow, list(judged.values())))  # before rows are locked
            await uow.threads.lock_in_order(firsts.keys(), keep=False)  # receive_many rewrites them next
            await uow.threads.receive_many([(message, message.sent_at) for message in firsts.values()], self._clock())

    async def handle(self, event: CloudEvent[MessageReceived]) -> Decision | None:
        """Route one inbound message; None when the event or the message was already routed."""
        message = event.data
        require_matching_account(event)
        received_at = self._clock()
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return None
            prepared: _Judged | None = take_prepared(uow, _JUDGED, event.id, source=message)
            judged = prepared or await self._judge(uow, message)
            account = judged.account
            await hold_first(uow, partial(self._assigning, uow, [judged]))  # before the row is locked
            thread = await uow.threads.receive(message, sent_at=message.sent_at, now=received_at)
            if thread is None:  # the same message re-published under another event id
                uow.after_commit(DUPLICATE_MESSAGES.inc)
                await uow.commit()
                logger.info("message already routed", extra={"message_id": message.message_id})
                return None
            decide = partial(self._decide, judged, thread, now=received_at)
            decision = await decide_with_people(uow, account, message.account_id, decide)
            cause = Cause(
                event_id=event.id,
                event_type=event.type,
                at=received_at,
                reply_to=message.message_id,
                locale=thread.locale,
            )
            await carry_out(uow, decision, thread, account, cause, message=message)
            if decision.transitions:  # the message itself was counted on the thread by ``receive``
                await uow.threads.save(thread, received_at)
            latency = self._latency(message, received_at)
            uow.after_commit(partial(count_decision, decision))
            uow.after_commit(partial(DECISION_SECONDS.observe, latency))
            await uow.commit()
        logger.info(
            "message routed",
            extra={"outcome": decision.outcome.value, "state": thread.state.value, "message_id": message.message_id},
        )
        return decision

    async def _judge(self, uow: RoutingUnitOfWorkProtocol, message: MessageReceived) -> _Judged:
        """The message with its account's view and whether it names a trigger, read once for its whole routing."""
        account = await self._directory.get(uow.accounts, message.account_id)
        return _Judged(message, account, trigger_matched=account.triggers.match(message.text) is not None)

    async def _assigning(self, uow: RoutingUnitOfWorkProtocol, messages: Sequence[_Judged]) -> set[str]:
        """The accounts in which one of these messages may hand its thread off, judged from the state of its
        thread read now, without locking it (a thread not seen yet is new).

        Its state may change before the thread is locked (an inbox event closes it): a handoff then not foreseen
        takes the account only if it is free (``people_to_assign``); else the batch is redone event by event, or
        the event retried, each reading the state again first.
        """
        # Most messages hand off in no state: nothing to read for them.
        candidates = [judged for judged in messages if _may_hand_off(judged, None)]
        states = await uow.threads.states({_thread_key(judged) for judged in candidates})
        return {
            judged.message.account_id
            for judged in candidates
            if _may_hand_off(judged, states.get(_thread_key(judged), ThreadState.NEW))
        }

    def _decide(self, judged: _Judged, thread: RoutedThread, people: People, *, now: datetime) -> Decision:
        # Who is available is judged now, on routing's clock: sent_at is the provider's and may be long past
        # (a queued message) or skewed; it stays the message's own time in the transcript and the latency.
        account = judged.account
        situation = Situation(
            state=thread.state,
            deployment=account.deployment(judged.message.channel),
            pause=account.pause,
            people=people,
            at=now,
        )
        return decide_inbound(situation, trigger_matched=judged.trigger_matched)

    def _latency(self, message: MessageReceived, received_at: datetime) -> float:
        sent_at = message.sent_at
        start = sent_at if timedelta(0) <= received_at - sent_at <= MAX_SENT_AT_AGE else received_at
        return max(0.0, (self._clock() - start).total_seconds())


def _may_hand_off(judged: _Judged, state: ThreadState | None) -> bool:
    """Whether the message hands its thread off in ``state`` (None: in some state)."""
    account = judged.account
    deployment = account.deployment(judged.message.channel)
    return may_hand_off(state, deployment, account.pause, trigger_matched=judged.trigger_matched)


def _thread_key(judged: _Judged) -> tuple[str, str]:
    return judged.message.account_id, judged.message.thread_id
