"""A replay's report: the live and the draft outcome of each question, and what changed between them."""

from __future__ import annotations

from datetime import UTC, datetime

from admin_api.domain.replay_report import Change, changes_between, outcome_of, report
from customer_agent_shared.events.channels import (
    Assignee,
    AssigneeKind,
    ChannelRef,
    ChannelType,
    Citation,
    HandoffReason,
    OutboundKind,
)
from customer_agent_shared.events.replay import ReplayedQuestion, ReplayVerdict, RoutedQuestion, RoutingVerdict

AT = datetime(2026, 12, 7, 10, tzinfo=UTC)
HELP = Citation(title="Reset your password", url="https://help.example.com/reset")
FAQ = Citation(title="FAQ", url="https://help.example.com/faq")
ANSWER = ReplayVerdict(kind=OutboundKind.ANSWER, answered=True, citations=[HELP], confidence=0.7)
REPHRASE = ReplayVerdict(kind=OutboundKind.REPHRASE_REQUEST, answered=False, confidence=0.3)
GIVE_UP = ReplayVerdict(
    kind=OutboundKind.HANDOFF_NOTICE, answered=False, confidence=0.3, handoff_reason=HandoffReason.CANNOT_ANSWER
)
KEPT = RoutingVerdict(outcome="assigned_to_agent")
UNASSIGNED = Assignee(kind=AssigneeKind.UNASSIGNED)
SUPPORT = Assignee(kind=AssigneeKind.TEAM, id="support")


def question(position: int, live: ReplayVerdict, draft: ReplayVerdict) -> ReplayedQuestion:
    return ReplayedQuestion(
        position=position,
        thread_id=f"t{position}",
        message_id=f"m{position}",
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        text=f"Question {position}?",
        language="en",
        asked_at=AT,
        live=live,
        draft=draft,
    )


def test_a_trigger_hands_the_thread_off_before_the_agent_answers() -> None:
    trigger = RoutingVerdict(outcome="handed_off", reason=HandoffReason.TRIGGER, assignee=UNASSIGNED, trigger="refund")

    live, draft = outcome_of(ANSWER, KEPT), outcome_of(ANSWER, trigger)

    assert (draft.answered, draft.reply, draft.citations) == (False, None, ())
    assert draft.to_json()["handoff"] == {
        "reason": "trigger",
        "outcome": "handed_off",
        "assignee": {"kind": "unassigned", "id": None},
        "trigger": "refund",
    }
    assert live.to_json()["handoff"] is None
    assert changes_between(live, draft) == [Change.ANSWERED_TO_DECLINED, Change.HANDOFF_REASON_CHANGED]


def test_answers_citations_and_the_receiver_of_a_handoff_are_compared() -> None:
    cited_faq = ANSWER.model_copy(update={"citations": [FAQ]})
    to_nobody = RoutingVerdict(outcome="handed_off", reason=HandoffReason.CANNOT_ANSWER, assignee=UNASSIGNED)
    to_support = to_nobody.model_copy(update={"assignee": SUPPORT})

    assert changes_between(outcome_of(REPHRASE, KEPT), outcome_of(ANSWER, KEPT)) == [Change.DECLINED_TO_ANSWERED]
    assert changes_between(outcome_of(ANSWER, KEPT), outcome_of(cited_faq, KEPT)) == [Change.CITATIONS_CHANGED]
    assert changes_between(outcome_of(GIVE_UP, to_nobody), outcome_of(GIVE_UP, to_support)) == [
        Change.HANDOFF_TARGET_CHANGED
    ]
    assert changes_between(outcome_of(ANSWER, KEPT), outcome_of(ANSWER, KEPT)) == []


def test_without_routing_only_the_agents_part_is_compared() -> None:
    live, draft = outcome_of(ANSWER, None), outcome_of(GIVE_UP, None)

    assert draft.to_json()["handoff"] == {"reason": "cannot_answer", "outcome": None, "assignee": None, "trigger": None}
    assert changes_between(live, draft) == [Change.ANSWERED_TO_DECLINED, Change.HANDOFF_REASON_CHANGED]


def test_the_report_counts_each_change_and_lists_the_changed_questions_newest_first() -> None:
    questions = [question(1, ANSWER, REPHRASE), question(0, ANSWER, ANSWER), question(2, REPHRASE, GIVE_UP)]
    routed = [
        RoutedQuestion(position=0, live=KEPT, draft=KEPT),
        RoutedQuestion(position=1, live=KEPT, draft=KEPT),
        RoutedQuestion(
            position=2,
            live=KEPT,
            draft=RoutingVerdict(outcome="handed_off", reason=HandoffReason.CANNOT_ANSWER, assignee=SUPPORT),
        ),
    ]

    found = report(questions, routed)

    assert found["summary"] == {
        "replayed": 3,
        "changed": 2,
        "unchanged": 1,
        "answered_to_declined": 1,
        "declined_to_answered": 0,
        "citations_changed": 0,
        "handoff_reason_changed": 1,
        "handoff_target_changed": 0,
    }
    first, second = found["changes"]
    assert (first["question"], first["changes"]) == ("Question 1?", ["answered_to_declined"])
    assert (second["question"], second["changes"]) == ("Question 2?", ["handoff_reason_changed"])
    assert second["draft"]["handoff"]["assignee"] == {"kind": "team", "id": "support"}
    assert second["channel"] == {"type": "live_chat", "id": "web"}
