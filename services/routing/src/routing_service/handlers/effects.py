"""Carry out a decision inside the unit of work: ownership, transitions, loads and outgoing events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from customer_agent_shared.events.channels import (
    MESSAGE_FORWARDED,
    MESSAGE_SEND,
    THREAD_HANDED_OFF,
    Assignee,
    AssigneeKind,
    Author,
    AuthorKind,
    MessageForwarded,
    MessageReceived,
    MessageSend,
    OutboundKind,
    ThreadHandedOff,
)
from customer_agent_shared.events.config import HandoffSettings
from customer_agent_shared.events.conversations import (
    CONVERSATION_ASSIGNED,
    CONVERSATION_HANDED_OFF,
    ConversationAssigned,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import derived_event_id, make_event
from customer_agent_shared.topics import CHANNELS_OUTBOUND, CONVERSATIONS_ASSIGNED, CONVERSATIONS_EVENTS, INBOX_HANDOFFS

from routing_service.adapters.account_cache import AccountView
from routing_service.adapters.repositories import ThreadRecord
from routing_service.adapters.unit_of_work import RoutingUnitOfWork
from routing_service.domain.decisions import Decision, Outcome
from routing_service.domain.handoff import LoadKey, Notice, People
from routing_service.domain.messages import notice_text
from routing_service.domain.ownership import ThreadState
from routing_service.metrics import DECISIONS, HANDOFFS, NOTICES

SOURCE = "routing"
TRANSCRIPT_LIMIT = 100


@dataclass(frozen=True)
class Cause:
    """The event that caused a decision."""

    event_id: str
    event_type: str
    at: datetime
    reply_to: str
    locale: str | None


def aware(moment: datetime) -> datetime:
    """``moment`` with a time zone; a naive time from a producer is read as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def people_of(account: AccountView, loads: Mapping[LoadKey, int], presence: Mapping[str, bool] | None = None) -> People:
    """The account's users and teams with their current loads and the inbox's presence."""
    config = account.config
    if config is None or config.deleted:
        return People.of([], [], loads)
    return People.of(config.users, config.teams, loads, presence)


async def people_now(uow: RoutingUnitOfWork, account: AccountView, account_id: str) -> People:
    """``people_of`` with the loads and presence stored now (read only when a handoff needs them)."""
    return people_of(account, await uow.loads.loads(account_id), await uow.presence.of_account(account_id))


def _key(thread: ThreadRecord) -> str:
    return f"{thread.account_id}:{thread.thread_id}"


def _assignee(thread: ThreadRecord) -> Assignee:
    kind = thread.assignee_kind or AssigneeKind.UNASSIGNED
    return Assignee(kind=kind, id=thread.assignee_id if kind is not AssigneeKind.UNASSIGNED else None)


async def apply_decision(
    uow: RoutingUnitOfWork,
    decision: Decision,
    thread: ThreadRecord,
    account: AccountView,
    cause: Cause,
    *,
    message: MessageReceived | None = None,
) -> None:
    """Move the thread, record the transitions, update loads and stage the outgoing events."""
    final = decision.final_state
    if final is not None:
        if decision.new_thread:
            thread.powered_by_ai = decision.powered_by_ai
        if final is ThreadState.HUMAN and decision.assignee is not None:
            thread.assignee_kind, thread.assignee_id = decision.assignee.kind, decision.assignee.id
            await uow.loads.change(thread.account_id, decision.assignee.kind, decision.assignee.id, +1)
        elif final is ThreadState.UNASSIGNED:
            thread.assignee_kind, thread.assignee_id = AssigneeKind.UNASSIGNED, None
        elif final is ThreadState.AGENT:
            thread.assignee_kind, thread.assignee_id = None, None
        thread.state = final
        await uow.threads.record_transitions(
            thread,
            decision.transitions,
            cause_event_id=cause.event_id,
            cause_event_type=cause.event_type,
            reason=decision.reason.value if decision.reason else None,
            at=cause.at,
        )
    key = _key(thread)
    if decision.assign_to_agent and message is not None:
        assigned = ConversationAssigned(
            account_id=thread.account_id,
            thread_id=thread.thread_id,
            channel=thread.channel,
            message=message,
            new_thread=decision.new_thread,
            powered_by_ai=True,
        )
        await uow.publish(
            CONVERSATIONS_ASSIGNED,
            key,
            make_event(
                CONVERSATION_ASSIGNED,
                assigned,
                source=SOURCE,
                account_id=thread.account_id,
                event_id=derived_event_id(cause.event_id, "assigned"),
            ),
        )
    if decision.outcome is Outcome.FORWARDED_TO_INBOX and message is not None:
        forwarded = MessageForwarded(
            account_id=thread.account_id,
            channel=thread.channel,
            thread_id=thread.thread_id,
            assignee=_assignee(thread),
            message=message,
        )
        await uow.publish(
            INBOX_HANDOFFS,
            key,
            make_event(
                MESSAGE_FORWARDED,
                forwarded,
                source=SOURCE,
                account_id=thread.account_id,
                event_id=derived_event_id(cause.event_id, "forwarded"),
            ),
        )
    if decision.outcome is Outcome.HANDED_OFF and decision.reason is not None:
        handed_off = ThreadHandedOff(
            account_id=thread.account_id,
            channel=thread.channel,
            thread_id=thread.thread_id,
            reason=decision.reason,
            assignee=_assignee(thread),
            update_avatar=decision.update_avatar,
            transcript=await uow.transcripts.recent(thread.account_id, thread.thread_id, TRANSCRIPT_LIMIT),
        )
        await uow.publish(
            INBOX_HANDOFFS,
            key,
            make_event(
                THREAD_HANDED_OFF,
                handed_off,
                source=SOURCE,
                account_id=thread.account_id,
                event_id=derived_event_id(cause.event_id, "handed_off"),
            ),
        )
        await _announce_handoff(uow, handed_off, cause)
    if decision.notice is not None:
        await _send_notice(uow, decision, thread, account, cause)


async def _announce_handoff(uow: RoutingUnitOfWork, handed_off: ThreadHandedOff, cause: Cause) -> None:
    """Every handoff routing carries out, with its reason, on conversations.events.v1 too: billing never
    charges the thread as an AI resolution and admin-api counts the handoff by its real reason."""
    event = ConversationEvent(
        account_id=handed_off.account_id,
        thread_id=handed_off.thread_id,
        channel=handed_off.channel,
        message_id=cause.reply_to or None,
        occurred_at=cause.at,
        reason=handed_off.reason,
        assignee=handed_off.assignee,
    )
    await uow.publish(
        CONVERSATIONS_EVENTS,
        f"{handed_off.account_id}:{handed_off.thread_id}",
        make_event(
            CONVERSATION_HANDED_OFF,
            event,
            source=SOURCE,
            account_id=handed_off.account_id,
            event_id=derived_event_id(cause.event_id, "conversation_handed_off"),
        ),
    )


def count_decision(decision: Decision) -> None:
    """Count a committed decision in the metrics."""
    DECISIONS.labels(outcome=decision.outcome.value).inc()
    if decision.outcome is Outcome.HANDED_OFF and decision.reason is not None:
        kind = decision.assignee.kind if decision.assignee is not None else AssigneeKind.UNASSIGNED
        HANDOFFS.labels(reason=decision.reason.value, assignee_kind=kind.value).inc()
    if decision.notice is not None:
        NOTICES.labels(kind=decision.notice.value).inc()


async def _send_notice(
    uow: RoutingUnitOfWork, decision: Decision, thread: ThreadRecord, account: AccountView, cause: Cause
) -> None:
    assert decision.notice is not None
    config = account.config
    settings = config.handoff if config is not None else None
    default_language = config.default_language if config is not None else "en"
    text = notice_text(settings or HandoffSettings(), decision.notice, cause.locale, default_language)
    kind = (
        OutboundKind.HANDOFF_UNAVAILABLE if decision.notice is Notice.HANDOFF_UNAVAILABLE else OutboundKind.AVAILABILITY
    )
    outbound = MessageSend(
        account_id=thread.account_id,
        channel=thread.channel,
        thread_id=thread.thread_id,
        reply_to=cause.reply_to,
        text=text.text,
        language=text.language,
        kind=kind,
        author=Author(kind=AuthorKind.SYSTEM, name=config.agent.name if config is not None else "Customer Agent"),
        powered_by_ai=decision.powered_by_ai,
    )
    await uow.publish(
        CHANNELS_OUTBOUND,
        _key(thread),
        make_event(
            MESSAGE_SEND,
            outbound,
            source=SOURCE,
            account_id=thread.account_id,
            event_id=derived_event_id(cause.event_id, "notice"),
        ),
    )
