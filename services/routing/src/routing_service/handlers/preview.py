"""Use case: tell an admin's preview what routing would do with the question (conversations.preview.v1).

The question is judged as the first message of a new thread on the chosen channel (the account's first
when none is given): the deployment's rule, trigger words, a pause, the people's availability and load.
Nothing is changed; the answer goes out on conversations.preview-replies.v1, beside conversation's.
"""

from __future__ import annotations

from customer_agent_shared.events.channels import Assignee, AssigneeKind, ChannelRef, OutboundKind
from customer_agent_shared.events.config import HandoffSettings
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.preview import PREVIEW_ROUTED, PreviewRequested, PreviewRouted, RoutingNotice
from customer_agent_shared.topics import CONVERSATIONS_PREVIEW_REPLIES

from routing_service.adapters.account_cache import AccountView
from routing_service.domain.decisions import Decision, Outcome, Situation, decide_inbound
from routing_service.domain.handoff import Notice
from routing_service.domain.messages import notice_text
from routing_service.domain.ownership import ThreadState
from routing_service.handlers.base import RoutingUseCase, stage_reply
from routing_service.handlers.effects import people_now
from routing_service.handlers.tenancy import require_matching_account


class PreviewRouting(RoutingUseCase):
    """Answers preview requests with routing's decision for a new thread (read only)."""

    async def handle(self, event: CloudEvent[PreviewRequested]) -> PreviewRouted | None:
        """Decide as for a new thread and stage the answer; None for a repeat."""
        require_matching_account(event)
        request = event.data
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return None
            account = await self._directory.get(uow.accounts, request.account_id)
            channel = request.channel or _first_channel(account)
            situation = Situation(
                state=ThreadState.NEW,
                deployment=account.deployment(channel) if channel is not None else None,
                pause=account.pause,
                people=await people_now(uow, account, request.account_id),
                at=self._clock(),
            )
            decision = decide_inbound(situation, trigger_matched=account.triggers.match(request.text) is not None)
            routed = _routed(request, channel, decision, account)
            await stage_reply(uow, event, topic=CONVERSATIONS_PREVIEW_REPLIES, event_type=PREVIEW_ROUTED, data=routed)
            await uow.commit()
        return routed


def decision_assignee(decision: Decision) -> Assignee | None:
    """Who a handoff decision gives the thread to (the unassigned view when nobody); None without a handoff."""
    if decision.outcome is not Outcome.HANDED_OFF:
        return None
    target = decision.assignee
    return Assignee(kind=target.kind, id=target.id) if target else Assignee(kind=AssigneeKind.UNASSIGNED)


def _first_channel(account: AccountView) -> ChannelRef | None:
    if account.config is None or account.config.deleted or not account.config.channels:
        return None
    first = account.config.channels[0]
    return ChannelRef(type=first.type, id=first.id)


def _routed(
    request: PreviewRequested, channel: ChannelRef | None, decision: Decision, account: AccountView
) -> PreviewRouted:
    assignee = decision_assignee(decision)
    notice = None
    if decision.notice is not None:
        config = account.config
        settings = config.handoff if config is not None else HandoffSettings()
        default_language = config.default_language if config is not None else "en"
        text = notice_text(settings, decision.notice, request.locale, default_language)
        kind = (
            OutboundKind.HANDOFF_UNAVAILABLE
            if decision.notice is Notice.HANDOFF_UNAVAILABLE
            else OutboundKind.AVAILABILITY
        )
        notice = RoutingNotice(kind=kind, text=text.text, language=text.language)
    return PreviewRouted(
        account_id=request.account_id,
        correlation_id=request.correlation_id,
        channel=channel,
        outcome=decision.outcome.value,
        reason=decision.reason,
        assignee=assignee,
        notice=notice,
        powered_by_ai=decision.powered_by_ai,
    )
