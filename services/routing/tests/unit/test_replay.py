"""Routing's verdict on a replayed question: triggers, the channel's rule and the agent's handoff request."""

from __future__ import annotations

from datetime import UTC, datetime

from customer_agent_shared.events.channels import AssigneeKind, ChannelRef, ChannelType, HandoffReason
from customer_agent_shared.events.config import (
    AgentConfigSnapshot,
    ChannelDeployment,
    HandoffMode,
    HandoffRule,
    HandoffSettings,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
)
from customer_agent_shared.events.replay import RoutingQuestion
from routing_service.domain.handoff import People
from routing_service.handlers.replay import judge

AT = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
WEB = ChannelRef(type=ChannelType.LIVE_CHAT, id="web")
SUPPORT = HandoffTarget(kind=AssigneeKind.TEAM, id="support")
PEOPLE = People.of(
    [HandoffUser(id="u1", paid_seat=True, team_ids=["support"])],
    [HandoffTeam(id="support", member_ids=["u1"])],
    {},
)


def _config(*, triggers: tuple[str, ...] = (), rule: HandoffRule | None = None) -> AgentConfigSnapshot:
    deployment = ChannelDeployment(type=WEB.type, id=WEB.id, handoff=rule or HandoffRule())
    return AgentConfigSnapshot(
        account_id="acc",
        version=1,
        updated_at=AT,
        channels=[deployment],
        handoff=HandoffSettings(triggers=list(triggers)),
    )


def _question(text: str, channel: ChannelRef | None = WEB) -> RoutingQuestion:
    return RoutingQuestion(position=0, channel=channel, text=text)


def test_a_question_the_agent_answers_stays_with_it() -> None:
    verdict = judge(_config(), _question("Where is my parcel?"), None, people=PEOPLE, at=AT)

    assert (verdict.outcome, verdict.reason, verdict.assignee, verdict.trigger) == (
        "assigned_to_agent",
        None,
        None,
        None,
    )


def test_a_draft_trigger_word_hands_the_thread_off_before_the_agent_answers() -> None:
    question = _question("I want a REFUND now")

    live = judge(_config(), question, None, people=PEOPLE, at=AT)
    draft = judge(_config(triggers=("refund",)), question, None, people=PEOPLE, at=AT)

    assert live.outcome == "assigned_to_agent"
    assert (draft.outcome, draft.reason, draft.trigger) == ("handed_off", HandoffReason.TRIGGER, "refund")
    assert draft.assignee is not None
    assert draft.assignee.kind is AssigneeKind.UNASSIGNED


def test_a_trigger_under_a_stay_assigned_rule_keeps_the_thread_with_the_agent() -> None:
    rule = HandoffRule(mode=HandoffMode.STAY_ASSIGNED)

    verdict = judge(_config(triggers=("refund",), rule=rule), _question("refund please"), None, people=PEOPLE, at=AT)

    assert (verdict.outcome, verdict.reason, verdict.trigger) == ("stayed_assigned", None, "refund")


def test_the_agents_request_for_a_person_follows_the_channels_rule() -> None:
    question = _question("Can I pay with seashells?")
    to_team = _config(rule=HandoffRule(assign_to=[SUPPORT]))

    unassigned = judge(_config(), question, HandoffReason.CANNOT_ANSWER, people=PEOPLE, at=AT)
    team = judge(to_team, question, HandoffReason.CANNOT_ANSWER, people=PEOPLE, at=AT)
    kept = judge(
        _config(rule=HandoffRule(mode=HandoffMode.STAY_ASSIGNED)),
        question,
        HandoffReason.CANNOT_ANSWER,
        people=PEOPLE,
        at=AT,
    )

    assert (unassigned.outcome, unassigned.reason) == ("handed_off", HandoffReason.CANNOT_ANSWER)
    assert unassigned.assignee is not None
    assert unassigned.assignee.kind is AssigneeKind.UNASSIGNED
    assert team.assignee is not None
    assert (team.assignee.kind, team.assignee.id) == (AssigneeKind.TEAM, "support")
    assert (kept.outcome, kept.reason) == ("stayed_assigned", None)


def test_a_question_from_a_channel_the_agent_left_goes_to_the_unassigned_view() -> None:
    other = ChannelRef(type=ChannelType.EMAIL, id="mail")

    verdict = judge(_config(), _question("Hello?", other), HandoffReason.CANNOT_ANSWER, people=PEOPLE, at=AT)

    assert (verdict.outcome, verdict.reason) == ("handed_off", HandoffReason.CANNOT_ANSWER)
