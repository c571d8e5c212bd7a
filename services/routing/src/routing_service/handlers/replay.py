"""Use case: tell a draft replay what routing would do with each replayed question (agent.replay.v1).

Each question is judged as a message of a thread the agent holds (it did hold them: conversation answered
them), under the live and under the draft configuration: a trigger word hands the thread off at once (or
keeps it, with a stay_assigned rule); otherwise the agent's own request for a person (a second miss in a
row) goes through the channel's handoff rule. People's availability and load are today's. Each question is
judged on its own: after a handoff, a thread's later questions still count as the agent's, so a report may
over-count changes (docs/drafts.md). Nothing is changed; the verdicts go back to admin-api on
agent.replay-results.v1.
"""

from __future__ import annotations

from datetime import datetime

from customer_agent_shared.events.channels import HandoffReason
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.envelope import CloudEvent
from customer_agent_shared.events.replay import (
    REPLAY_ROUTED,
    ReplayRouted,
    ReplayRoutingRequested,
    RoutedQuestion,
    RoutingQuestion,
    RoutingVerdict,
)
from customer_agent_shared.topics import AGENT_REPLAY_RESULTS

from routing_service.adapters.account_cache import deployment_in
from routing_service.domain.decisions import (
    Outcome,
    PauseCause,
    Situation,
    decide_handoff_request,
    decide_inbound,
)
from routing_service.domain.handoff import People
from routing_service.domain.ownership import ThreadState
from routing_service.domain.triggers import TriggerMatcher
from routing_service.handlers.base import RoutingUseCase, stage_reply
from routing_service.handlers.effects import people_now
from routing_service.handlers.preview import decision_assignee
from routing_service.handlers.tenancy import require_matching_account


def judge(
    config: AgentConfigSnapshot,
    question: RoutingQuestion,
    handoff_request: HandoffReason | None,
    *,
    people: People,
    at: datetime,
) -> RoutingVerdict:
    """Routing's verdict on one question of a thread the agent holds, under ``config``."""
    deployment = deployment_in(config, question.channel) if question.channel is not None else None
    # A pause or exhausted credits only keep new threads from the agent, never one it holds.
    situation = Situation(state=ThreadState.AGENT, deployment=deployment, pause=PauseCause.NONE, people=people, at=at)
    trigger = TriggerMatcher(config.handoff.triggers).match(question.text)
    decision = decide_inbound(situation, trigger_matched=trigger is not None)
    if decision.outcome is not Outcome.HANDED_OFF and handoff_request is not None:
        # The agent keeps the thread (no trigger, or a stay_assigned rule) and answers, then asks for a person.
        decision = decide_handoff_request(situation, handoff_request)
    return RoutingVerdict(
        outcome=decision.outcome.value,
        reason=decision.reason,
        assignee=decision_assignee(decision),
        trigger=trigger,
    )


class ReplayRouting(RoutingUseCase):
    """Answers a replay's routing requests (read only)."""

    async def handle(self, event: CloudEvent[ReplayRoutingRequested]) -> ReplayRouted | None:
        """Judge every question under both configurations and stage the verdicts; None for a repeat."""
        require_matching_account(event)
        request = event.data
        async with self._unit_of_work() as uow:
            if not await uow.claim_event(self._consumer, event.id):
                return None
            account = await self._directory.get(uow.accounts, request.account_id)
            people = await people_now(uow, account, request.account_id)
            at = self._clock()
            routed = ReplayRouted(
                account_id=request.account_id,
                replay_id=request.replay_id,
                questions=[
                    RoutedQuestion(
                        position=question.position,
                        live=judge(request.live, question, question.live_handoff, people=people, at=at),
                        draft=judge(request.draft, question, question.draft_handoff, people=people, at=at),
                    )
                    for question in request.questions
                ],
            )
            await stage_reply(uow, event, topic=AGENT_REPLAY_RESULTS, event_type=REPLAY_ROUTED, data=routed)
            await uow.commit()
        return routed
