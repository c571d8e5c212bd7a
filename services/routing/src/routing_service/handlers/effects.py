"""What a use case does after the domain decided: record the change of ownership and stage the events."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from customer_agent_shared.events.channels import (
    MESSAGE_FORWARDED,
    MESSAGE_SEND,
    THREAD_HANDED_OFF,
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
from pydantic import BaseModel

from routing_service.adapters.account_cache import AccountView
from routing_service.domain.decisions import Decision, Outcome
from routing_service.domain.handoff import LoadKey, Notice, People
from routing_service.domain.messages import notice_text
from routing_service.domain.model import OwnershipChange, RoutedThread
from routing_service.handlers.assignment_holds import hold_unforeseen
from routing_service.handlers.types import RoutingUnitOfWorkProtocol
from routing_service.metrics import DECISIONS, HANDOFFS, NOTICES

SOURCE = "routing"
TRANSCRIPT_LIMIT = 100


@dataclass(frozen=True, kw_only=True)
class Cause:
    """The event that caused a decision."""

    event_id: str
    event_type: str
    at: datetime
    reply_to: str
    locale: str | None


def people_of(account: AccountView, loads: Mapping[LoadKey, int], presence: Mapping[str, bool] | None = None) -> People:
    """The account's users and teams with their current loads and the inbox's presence."""
    config = account.config
    if config is None or config.deleted:
        return People.of([], [], loads)
    return People.of(config.users, config.teams, loads, presence)


async def people_now(uow: RoutingUnitOfWorkProtocol, account: AccountView, account_id: str) -> People:
    """``people_of`` with the loads and presence stored now (read only when a handoff needs them)."""
    return people_of(account, await uow.loads.loads(account_id), await uow.presence.of_account(account_id))


async def people_to_assign(uow: RoutingUnitOfWorkProtocol, account: AccountView, account_id: str) -> People:
    """``people_now`` for a decision that may take a place: the account's assignments wait for this
    transaction from before the loads are read until it ends, so no two both fill the last place."""
    await hold_unforeseen(uow, account_id)  # held since the transaction began, unless it was not foreseen
    return await people_now(uow, account, account_id)


async def decide_with_people(
    uow: RoutingUnitOfWorkProtocol, account: AccountView, account_id: str, decide: Callable[[People], Decision]
) -> Decision:
    """``decide`` as if nobody were available, and again with ``people_to_assign`` when that hands the thread
    off: only then is the load of people worth reading and the account's assignments held."""
    decision = decide(People.of([], [], {}))
    if decision.outcome is Outcome.HANDED_OFF:
        decision = decide(await people_to_assign(uow, account, account_id))
    return decision


async def record_change(
    uow: RoutingUnitOfWorkProtocol,
    thread: RoutedThread,
    change: OwnershipChange,
    *,
    cause_event_id: str,
    cause_event_type: str,
    at: datetime,
) -> None:
    """Take or free the places the change moved, holding the account's assignments, and record its transitions
    with the event that caused it."""
    if change.load_changes:
        await hold_unforeseen(uow, thread.account_id)
    for holder, delta in change.load_changes:
        await uow.loads.change(thread.account_id, holder, delta)
    await uow.threads.record_transitions(
        thread,
        change.transitions,
        cause_event_id=cause_event_id,
        cause_event_type=cause_event_type,
        reason=change.reason.value if change.reason else None,
        at=at,
    )


async def carry_out(
    uow: RoutingUnitOfWorkProtocol,
    decision: Decision,
    thread: RoutedThread,
    account: AccountView,
    cause: Cause,
    *,
    message: MessageReceived | None = None,
) -> None:
    """Move the thread as decided, record the change and stage the outgoing events."""
    change = thread.carry_out(decision)
    if change is not None:
        await record_change(
            uow, thread, change, cause_event_id=cause.event_id, cause_event_type=cause.event_type, at=cause.at
        )
    if decision.assign_to_agent and message is not None:
        assigned = ConversationAssigned(
            account_id=thread.account_id,
            thread_id=thread.thread_id,
            channel=thread.channel,
            message=message,
            new_thread=decision.new_thread,
            powered_by_ai=True,
        )
        await _stage(uow, CONVERSATIONS_ASSIGNED, thread, CONVERSATION_ASSIGNED, assigned, cause, "assigned")
    if decision.outcome is Outcome.FORWARDED_TO_INBOX and message is not None:
        forwarded = MessageForwarded(
            account_id=thread.account_id,
            channel=thread.channel,
            thread_id=thread.thread_id,
            assignee=thread.assignee,
            message=message,
        )
        await _stage(uow, INBOX_HANDOFFS, thread, MESSAGE_FORWARDED, forwarded, cause, "forwarded")
    if decision.outcome is Outcome.HANDED_OFF and decision.reason is not None:
        handed_off = ThreadHandedOff(
            account_id=thread.account_id,
            channel=thread.channel,
            thread_id=thread.thread_id,
            reason=decision.reason,
            assignee=thread.assignee,
            update_avatar=decision.update_avatar,
            transcript=await uow.transcripts.recent(thread.account_id, thread.thread_id, TRANSCRIPT_LIMIT),
        )
        await _stage(uow, INBOX_HANDOFFS, thread, THREAD_HANDED_OFF, handed_off, cause, "handed_off")
        await _announce_handoff(uow, thread, handed_off, cause)
    if decision.notice is not None:
        await _send_notice(uow, decision, thread, account, cause)


async def _stage(
    uow: RoutingUnitOfWorkProtocol,
    topic: str,
    thread: RoutedThread,
    event_type: str,
    data: BaseModel,
    cause: Cause,
    purpose: str,
) -> None:
    """Stage one event about the thread, its id derived from the cause's so a redelivery repeats it."""
    event = make_event(
        event_type,
        data,
        source=SOURCE,
        account_id=thread.account_id,
        event_id=derived_event_id(cause.event_id, purpose),
    )
    await uow.publish(topic, thread.key, event)


async def _announce_handoff(
    uow: RoutingUnitOfWorkProtocol, thread: RoutedThread, handed_off: ThreadHandedOff, cause: Cause
) -> None:
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
    await _stage(uow, CONVERSATIONS_EVENTS, thread, CONVERSATION_HANDED_OFF, event, cause, "conversation_handed_off")


def count_decision(decision: Decision) -> None:
    """Count a committed decision in the metrics."""
    DECISIONS.labels(outcome=decision.outcome.value).inc()
    if decision.outcome is Outcome.HANDED_OFF and decision.reason is not None:
        kind = decision.assignee.kind if decision.assignee is not None else AssigneeKind.UNASSIGNED
        HANDOFFS.labels(reason=decision.reason.value, assignee_kind=kind.value).inc()
    if decision.notice is not None:
        NOTICES.labels(kind=decision.notice.value).inc()


async def _send_notice(
    uow: RoutingUnitOfWorkProtocol, decision: Decision, thread: RoutedThread, account: AccountView, cause: Cause
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
    await _stage(uow, CHANNELS_OUTBOUND, thread, MESSAGE_SEND, outbound, cause, "notice")
