"""Knowledge-gap grouping and performance summaries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from admin_api.domain.gaps import (
    AskedQuestion,
    GapCandidate,
    matching_gap,
    merge_nearest_content,
    normalize_question,
    recommended_answer,
    similarity,
)
from admin_api.domain.performance import THREAD_CLOSED_FACT, THREAD_REASSIGNED_FACT, ConversationFact, summarize
from customer_agent_shared.events.channels import Citation

AT = datetime(2026, 11, 21, tzinfo=UTC)


@pytest.mark.parametrize(
    ("question", "normalized"),
    [("Can I pay with MobilePay?!", "can i pay with mobilepay"), ("  Hvad  koster   det? ", "hvad koster det")],
)
def test_normalize_question(question: str, normalized: str) -> None:
    assert normalize_question(question) == normalized


@pytest.mark.parametrize(
    ("first", "second", "similar"),
    [
        ("Can I pay with MobilePay?", "can i pay with mobilepay", True),
        ("Can I pay with MobilePay?", "Do you accept MobilePay payments? pay", False),
        ("Do you ship to Norway?", "Do you ship to Norway and Sweden?", True),
        ("Do you ship to Norway?", "What are your opening hours?", False),
        ("Kan jeg betale med MobilePay?", "Kan man betale med MobilePay", True),
    ],
)
def test_similarity(first: str, second: str, similar: bool) -> None:
    assert (similarity(normalize_question(first), normalize_question(second)) >= 0.6) is similar


def test_matching_gap_picks_the_most_similar_above_the_threshold() -> None:
    candidates = [
        GapCandidate("g1", normalize_question("ship to norway")),
        GapCandidate("g2", normalize_question("do you ship to norway")),
        GapCandidate("g3", normalize_question("opening hours")),
    ]
    assert matching_gap(AskedQuestion(normalize_question("Do you ship to Norway?")), candidates) in {"g1", "g2"}
    assert matching_gap(AskedQuestion(normalize_question("refund policy")), candidates) is None


def test_a_question_in_another_language_joins_a_gap_by_its_vector_of_the_same_model() -> None:
    english = GapCandidate("g1", normalize_question("do you ship to norway"), embedding=(1.0, 0.0), embedding_model="m")
    danish = normalize_question("sender I til Norge")
    close = (0.96, 0.28)  # cosine 0.96
    assert matching_gap(AskedQuestion(danish, embedding=close, embedding_model="m"), [english]) == "g1"
    assert matching_gap(AskedQuestion(danish, embedding=close, embedding_model="other"), [english]) is None
    assert matching_gap(AskedQuestion(danish, embedding=(0.8, 0.6), embedding_model="m"), [english]) is None
    assert matching_gap(AskedQuestion(danish), [english]) is None


def test_nearest_content_is_merged_by_url_newest_first() -> None:
    a, b, c = (Citation(title=t, url=f"https://x/{t}") for t in "abc")
    assert merge_nearest_content([a, b], [c, a]) == [c, a, b]
    assert len(merge_nearest_content([a, b, c], [a, b, c], limit=2)) == 2


def test_an_open_gap_shows_conversations_draft_and_a_closed_one_none() -> None:
    assert recommended_answer(status="open", drafted="Open Settings.") == "Open Settings."
    assert recommended_answer(status="dismissed", drafted="Open Settings.") is None
    assert recommended_answer(status="open", drafted=None) is None


def fact(kind: str, thread: str, **extra: object) -> ConversationFact:
    return ConversationFact(kind=f"conversation.{kind}", thread_id=thread, occurred_at=AT, **extra)  # type: ignore[arg-type]


def test_summary_counts_per_conversation_and_leaves_previews_out() -> None:
    facts = [
        fact("answered", "t1", question="How do I reset my password?"),
        fact("answered", "t1", question="how do I reset my password"),
        fact("resolved", "t1"),
        fact("cannot_answer", "t2", question="Refund?"),
        fact("handoff_requested", "t2", reason="cannot_answer"),  # conversation asks; routing hands off:
        fact("handed_off", "t2", reason="cannot_answer"),
        fact("answered", "t3", question="Opening hours?"),
        fact("handed_off", "t3", reason="trigger"),
        fact("resolved", "t3"),  # conversation's quiet-period resolution of a thread it did not know was handed off
        fact("answered", "preview", billable=False, question="How do I reset my password?"),
    ]
    summary = summarize(facts)
    assert summary.conversations == 3
    assert summary.answered == 2
    assert summary.resolved == 1
    assert summary.resolution_rate == pytest.approx(1 / 3, abs=1e-4)
    assert summary.answer_rate == pytest.approx(3 / 4)
    assert summary.cannot_answer_rate == pytest.approx(1 / 4)
    assert summary.handoffs == 2
    assert summary.handoffs_by_reason == {"cannot_answer": 1, "trigger": 1}
    assert summary.handoff_rate_by_reason["trigger"] == pytest.approx(1 / 3, abs=1e-4)
    assert summary.credits_used == 0  # billing's figure, not guessed from the conversations
    assert summary.top_questions[0].count == 2
    assert summary.top_questions[0].question == "How do I reset my password?"


@pytest.mark.parametrize(("billed", "credits"), [(4, 4), (0, 0), (-3, 0)])
def test_the_credits_used_are_billings_and_never_below_zero(billed: int, credits: int) -> None:
    # A thread the agent never answered (a knowledge gap only) is a conversation, but billing charged nothing for
    # it; -3: days from a billing that counted a refund on its own day, not with the charge it took back.
    facts = [fact("answered", "t1"), fact("knowledge_gap", "t2", question="hi bin")]
    summary = summarize(facts, credits_used=billed)
    assert (summary.conversations, summary.credits_used) == (2, credits)


def test_a_request_that_routing_did_not_carry_out_is_no_handoff() -> None:
    facts = [fact("answered", "t1"), fact("handoff_requested", "t1", reason="visitor_request"), fact("resolved", "t1")]
    summary = summarize(facts)
    assert (summary.handoffs, summary.handoffs_by_reason) == (0, {})


def test_the_inbox_closing_a_thread_ends_the_persons_conversation_on_it() -> None:
    later = AT + timedelta(hours=1)
    facts = [
        fact("handed_off", "t1", reason="agent_paused"),
        ConversationFact(kind=THREAD_CLOSED_FACT, thread_id="t1", occurred_at=AT + timedelta(minutes=30)),
        ConversationFact(kind="conversation.answered", thread_id="t1", occurred_at=later),
        ConversationFact(kind="conversation.resolved", thread_id="t1", occurred_at=later + timedelta(hours=72)),
        fact("handed_off", "t2", reason="not_deployed"),
        ConversationFact(kind=THREAD_CLOSED_FACT, thread_id="closed-only", occurred_at=AT),
    ]
    summary = summarize(facts)
    assert summary.conversations == 2  # a close alone is no conversation of the agent's
    assert summary.resolved == 1  # t1's new conversation, after the person closed the handed-off one
    assert summary.handoffs_by_reason == {"agent_paused": 1, "not_deployed": 1}


def test_a_thread_handed_off_by_routing_and_closed_is_no_resolution_of_the_agents() -> None:
    # Conversation never hears of routing's trigger handoff, so it still resolves the thread 72 h later.
    facts = [
        fact("answered", "t1"),
        fact("handed_off", "t1", reason="trigger"),
        ConversationFact(kind=THREAD_CLOSED_FACT, thread_id="t1", occurred_at=AT + timedelta(minutes=5)),
        ConversationFact(kind="conversation.resolved", thread_id="t1", occurred_at=AT + timedelta(hours=72)),
    ]
    assert summarize(facts).resolved == 0


def test_a_thread_the_inbox_took_from_the_agent_is_no_resolution_of_the_agents() -> None:
    # Conversation never hears that a person took the thread either: billing charges no resolution for it.
    facts = [
        fact("answered", "taken"),
        ConversationFact(kind=THREAD_REASSIGNED_FACT, thread_id="taken", occurred_at=AT + timedelta(minutes=5)),
        ConversationFact(kind="conversation.resolved", thread_id="taken", occurred_at=AT + timedelta(hours=72)),
        fact("answered", "kept"),
        ConversationFact(kind="conversation.resolved", thread_id="kept", occurred_at=AT + timedelta(hours=72)),
        ConversationFact(kind=THREAD_REASSIGNED_FACT, thread_id="reassigned-only", occurred_at=AT),
    ]
    summary = summarize(facts)
    assert (summary.conversations, summary.resolved, summary.handoffs) == (2, 1, 0)
    assert summarize(facts[2:], earlier=facts[:2]).resolved == 1  # taken before the period: "kept" only


def test_a_handoff_before_the_period_still_counts() -> None:
    earlier = [fact("answered", "t1"), fact("handed_off", "t1", reason="trigger")]
    resolved = ConversationFact(kind="conversation.resolved", thread_id="t1", occurred_at=AT + timedelta(days=3))
    assert summarize([resolved]).resolved == 1
    assert summarize([resolved], earlier=earlier).resolved == 0


def test_empty_period_has_zero_rates() -> None:
    summary = summarize([])
    assert summary.conversations == 0
    assert summary.resolution_rate == 0.0
    assert summary.top_questions == []
