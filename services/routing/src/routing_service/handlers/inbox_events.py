"""Use case: what people do in the human inbox (inbox.events.v1) changes ownership, loads and presence."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from customer_agent_shared.events.envelope import CloudEvent, EventParseError, RawCloudEvent
from customer_agent_shared.events.inbox import (
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
    UserAvailability,
    inbox_event,
)

from routing_service.domain.inbox import moves_places
from routing_service.domain.model import OwnershipChange, RoutedThread
from routing_service.handlers.assignment_holds import hold_first
from routing_service.handlers.base import keep_prepared, take_prepared
from routing_service.handlers.effects import record_change
from routing_service.handlers.types import RoutingUnitOfWorkProtocol, UnitOfWorkFactory
from routing_service.metrics import INBOX_ACTIONS

logger = logging.getLogger(__name__)


def inbox_change(
    thread: RoutedThread, data: ThreadClosed | ThreadReassigned | ThreadReturned
) -> OwnershipChange | None:
    """Apply an inbox action to the thread; None when it changes nothing."""
    if isinstance(data, ThreadClosed):
        return thread.close_from_inbox()
    if isinstance(data, ThreadReassigned):
        return thread.reassign(data.assignee)  # the contract names a user's or team's id (``ThreadReassigned``)
    return thread.return_to_agent()


_PARSED = "inbox.parsed"
"""The transaction cache of the events a batch's ``prepare`` parsed, by event id (with the raw event)."""


class HandleInboxEvent:
    """One transaction per event: claim it, then move the thread and its loads, or store the presence."""

    def __init__(
        self,
        unit_of_work: UnitOfWorkFactory,
        consumer: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._unit_of_work = unit_of_work
        self._consumer = consumer
        self._clock = clock

    @property
    def inbox_consumer(self) -> str:
        """The name this use case claims its events under in the inbox."""
        return self._consumer

    async def prepare(self, raws: Sequence[RawCloudEvent]) -> None:
        """Ahead of a batch, inside its transaction: parse each event once (kept for its ``handle``), hold the
        assignments of every account in which one of them may free or take a place (``_moving_places``), before
        any thread's row is locked; then lock its threads."""
        async with self._unit_of_work() as uow:
            events: list[CloudEvent[Any]] = []
            for raw in raws:
                with contextlib.suppress(EventParseError):  # ``handle`` refuses it: nothing to prepare for it
                    event = inbox_event(raw)
                    keep_prepared(uow, _PARSED, raw.id, source=raw, value=event)
                    events.append(event)
            await hold_first(uow, partial(_moving_places, uow, events))
            # Then every thread of the batch in key order (``ThreadStore.lock_in_order``), each taken as locked
            # there by its event's ``handle``.
            await uow.threads.lock_in_order(
                {(event.data.account_id, event.data.thread_id) for event in events if _is_thread_action(event)}
            )

    async def handle(self, raw: RawCloudEvent) -> bool:
        """Apply one inbox event; False when it was handled before or changed nothing.

        An event of an unknown type, with invalid data or naming another account in its data than in its
        envelope raises ``EventParseError``: it goes to the dead-letter topic.
        """
        async with self._unit_of_work() as uow:
            event = _parsed(uow, raw)
            if not await uow.claim_event(self._consumer, event.id):
                return False
            # Before the thread's row is locked: its load rows change only under its account's hold, which a
            # handoff takes before locking any row (``assignment_holds``).
            await hold_first(uow, partial(_moving_places, uow, [event]))
            if isinstance(event.data, UserAvailability):
                applied = await self._report_presence(uow, event)
            else:
                applied = await self._change_owner(uow, event)
            uow.after_commit(partial(INBOX_ACTIONS.labels(type=event.type, outcome=_outcome(applied)).inc))
            await uow.commit()
        return applied

    async def _report_presence(self, uow: RoutingUnitOfWorkProtocol, event: CloudEvent[Any]) -> bool:
        data: UserAvailability = event.data
        # Reports of one user share a partition (key account:user); the time keeps a replayed older one out.
        return await uow.presence.report(data.account_id, data.user_id, available=data.available, changed_at=event.time)

    async def _change_owner(self, uow: RoutingUnitOfWorkProtocol, event: CloudEvent[Any]) -> bool:
        data: ThreadClosed | ThreadReassigned | ThreadReturned = event.data
        thread = await uow.threads.lock(data.account_id, data.thread_id)
        change = inbox_change(thread, data) if thread is not None else None
        if thread is None or change is None:
            logger.info("inbox event changes nothing", extra={"event_type": event.type})
            return False
        now = self._clock()
        await record_change(uow, thread, change, cause_event_id=event.id, cause_event_type=event.type, at=now)
        await uow.threads.save(thread, now)
        logger.info("inbox event applied", extra={"event_type": event.type, "state": thread.state.value})
        return True


async def _moving_places(uow: RoutingUnitOfWorkProtocol, events: Sequence[CloudEvent[Any]]) -> set[str]:
    """The accounts in which one of these events may free or take a place, judged from its thread's state read
    now, without locking it (a thread not seen yet changes nothing). A presence report moves no place.

    Its state may change before the thread is locked: a change of places then not foreseen takes the account
    only if it is free (``record_change``), else the batch is redone event by event, or the event retried.
    """
    actions: list[ThreadClosed | ThreadReassigned | ThreadReturned] = [
        event.data for event in events if _is_thread_action(event)
    ]
    states = await uow.threads.states({(data.account_id, data.thread_id) for data in actions})
    return {
        data.account_id
        for data in actions
        if (state := states.get((data.account_id, data.thread_id))) is not None
        and moves_places(state, data.assignee if isinstance(data, ThreadReassigned) else None)
    }


def _parsed(uow: RoutingUnitOfWorkProtocol, raw: RawCloudEvent) -> CloudEvent[Any]:
    """The event as this transaction's ``prepare`` parsed it, taken once; else parsed now (an event on its own, or
    redone so after its batch failed). A malformed one is never kept: parsed here, it raises ``EventParseError``
    with the reason it always had."""
    kept: CloudEvent[Any] | None = take_prepared(uow, _PARSED, raw.id, source=raw)
    return kept if kept is not None else inbox_event(raw)


def _is_thread_action(event: CloudEvent[Any]) -> bool:
    """Whether the event acts on a thread (a presence report acts on a user)."""
    return not isinstance(event.data, UserAvailability)


def _outcome(applied: bool) -> str:
    return "applied" if applied else "ignored"
