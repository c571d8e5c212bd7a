"""Use case: what people do in the human inbox (inbox.events.v1) changes ownership, loads and presence."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from typing import Any

from customer_agent_shared.events.channels import AssigneeKind
from customer_agent_shared.events.envelope import CloudEvent, RawCloudEvent
from customer_agent_shared.events.inbox import (
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
    UserAvailability,
    inbox_event,
)
from customer_agent_shared.messaging.reliable import PermanentHandlerError

from routing_service.adapters.repositories import ThreadRecord
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.domain.inbox import (
    InboxChange,
    InvalidAssigneeError,
    Owner,
    close_thread,
    reassign_thread,
    return_thread,
)
from routing_service.domain.ownership import ThreadState
from routing_service.handlers.effects import aware
from routing_service.metrics import INBOX_ACTIONS

logger = logging.getLogger(__name__)


def owner_of(thread: ThreadRecord) -> Owner:
    """The thread's owner as the inbox rules see it."""
    if thread.state is ThreadState.HUMAN and thread.assignee_kind is not None and thread.assignee_id:
        return Owner(thread.state, (thread.assignee_kind, thread.assignee_id))
    return Owner(thread.state)


def inbox_change(owner: Owner, data: ThreadClosed | ThreadReassigned | ThreadReturned) -> InboxChange | None:
    """The change an inbox action makes to a thread held by ``owner``."""
    if isinstance(data, ThreadClosed):
        return close_thread(owner)
    if isinstance(data, ThreadReassigned):
        try:
            return reassign_thread(owner, data.assignee)
        except InvalidAssigneeError as error:
            raise PermanentHandlerError(str(error)) from error
    return return_thread(owner)


class HandleInboxEvent:
    """One transaction per event: claim it, then move the thread and its loads, or store the presence."""

    def __init__(
        self,
        unit_of_work: Callable[[], RoutingUnitOfWork],
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

    async def handle(self, raw: RawCloudEvent) -> bool:
        """Apply one inbox event; False when it was handled before or changed nothing.

        An event of an unknown type, with invalid data or naming another account in its data than in its
        envelope raises ``EventParseError``: it goes to the dead-letter topic.
        """
        event = inbox_event(raw)
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return False
            if isinstance(event.data, UserAvailability):
                applied = await self._report_presence(uow, event)
            else:
                applied = await self._change_owner(uow, event)
            uow.after_commit(partial(INBOX_ACTIONS.labels(type=event.type, outcome=_outcome(applied)).inc))
            await uow.commit()
        return applied

    async def _report_presence(self, uow: RoutingUnitOfWork, event: CloudEvent[Any]) -> bool:
        data: UserAvailability = event.data
        # Reports of one user share a partition (key account:user); the time keeps a replayed older one out.
        return await uow.presence.report(
            data.account_id, data.user_id, available=data.available, changed_at=aware(event.time)
        )

    async def _change_owner(self, uow: RoutingUnitOfWork, event: CloudEvent[Any]) -> bool:
        data: ThreadClosed | ThreadReassigned | ThreadReturned = event.data
        thread = await uow.threads.lock(data.account_id, data.thread_id)
        change = inbox_change(owner_of(thread), data) if thread is not None else None
        if thread is None or change is None:
            logger.info("inbox event changes nothing", extra={"event_type": event.type})
            return False
        for (kind, assignee_id), delta in change.load_changes:
            await uow.loads.change(thread.account_id, kind, assignee_id, delta)
        after = change.owner
        if after.state is ThreadState.HUMAN and after.holder is not None:
            thread.assignee_kind, thread.assignee_id = after.holder
        elif after.state is ThreadState.UNASSIGNED:
            thread.assignee_kind, thread.assignee_id = AssigneeKind.UNASSIGNED, None
        elif after.state is ThreadState.AGENT:
            thread.assignee_kind, thread.assignee_id = None, None
        thread.state = after.state
        now = self._clock()
        await uow.threads.record_transitions(
            thread, (change.step,), cause_event_id=event.id, cause_event_type=event.type, reason=None, at=now
        )
        await uow.threads.save(thread, now)
        logger.info("inbox event applied", extra={"event_type": event.type, "state": thread.state.value})
        return True


def _outcome(applied: bool) -> str:
    return "applied" if applied else "ignored"
