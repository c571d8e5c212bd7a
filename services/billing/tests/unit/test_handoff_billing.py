"""A handed-off thread is never charged as an AI resolution, whatever order billing hears the events in."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from billing_service.domain.ledger import EntryKind, open_account, record_refund, record_usage
from billing_service.domain.pricing import (
    ThreadFacts,
    charge_for_event,
    observe,
    quietly_resolved,
    refund_due,
    resolution_moment,
)
from customer_agent_shared.events.billing import CreditPlan, PricingRule
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_HANDED_OFF,
    CONVERSATION_RESOLVED,
)
from customer_agent_shared.events.inbox import THREAD_CLOSED, THREAD_REASSIGNED

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
RES = PricingRule.PER_RESOLUTION


def hear(
    events: list[tuple[str, datetime]], rule: PricingRule = RES, start: ThreadFacts | None = None
) -> tuple[ThreadFacts, int]:
    """Feed events in the order billing hears them (each with when it happened), from the facts ``start``
    (a thread never seen): the facts and the credits net."""
    facts, net = start or ThreadFacts(), 0
    for event_type, at in events:
        before = facts
        facts = observe(facts, event_type, billable=True, feedback=None, occurred_at=at)
        if refund_due(before, event_type, at):
            facts, net = replace(facts, resolved_at=None), net - 1
        if charge_for_event(rule, event_type, facts):
            resolved_at = at if rule is RES else None
            facts, net = replace(facts, charged=True, resolved_at=resolved_at), net + 1
    return facts, net


ANSWER = (CONVERSATION_ANSWERED, T0)
HANDOFF = (CONVERSATION_HANDED_OFF, T0 + timedelta(minutes=5))
RESOLVED = (CONVERSATION_RESOLVED, T0 + timedelta(hours=72))


@pytest.mark.parametrize(
    "heard",
    [
        [ANSWER, HANDOFF, RESOLVED],  # the handoff first: never charged
        [ANSWER, RESOLVED, HANDOFF],  # the handoff heard after the resolution it preceded: charged, then refunded
        [HANDOFF, ANSWER, RESOLVED],
    ],
)
def test_a_thread_handed_off_before_its_resolution_costs_nothing_in_any_order(
    heard: list[tuple[str, datetime]],
) -> None:
    facts, net = hear(heard)
    assert net == 0
    assert facts.handed_off


@pytest.mark.parametrize("handoff_type", [CONVERSATION_HANDED_OFF, THREAD_REASSIGNED])
def test_a_person_taking_the_thread_also_stops_the_charge(handoff_type: str) -> None:
    assert hear([ANSWER, (handoff_type, T0 + timedelta(minutes=1)), RESOLVED])[1] == 0


def test_a_handoff_after_the_resolution_belongs_to_a_later_conversation_and_keeps_the_charge() -> None:
    later = (CONVERSATION_HANDED_OFF, RESOLVED[1] + timedelta(days=2))
    assert hear([ANSWER, RESOLVED, later])[1] == 1


def test_a_closed_thread_creates_no_charge() -> None:
    facts, net = hear([ANSWER, (THREAD_CLOSED, T0 + timedelta(minutes=1))])
    assert net == 0
    assert not facts.charged


def test_a_quiet_resolution_counts_at_the_end_of_the_quiet_period() -> None:
    facts = observe(ThreadFacts(), CONVERSATION_ANSWERED, billable=True, feedback=None, occurred_at=T0)
    assert quietly_resolved(facts, T0 + timedelta(hours=72), 72)
    charged = replace(facts, charged=True, resolved_at=resolution_moment(facts, 72))
    assert refund_due(charged, CONVERSATION_HANDED_OFF, T0 + timedelta(hours=71))
    assert not refund_due(charged, CONVERSATION_HANDED_OFF, T0 + timedelta(hours=73))
    assert not quietly_resolved(
        observe(facts, THREAD_REASSIGNED, billable=True, feedback=None, occurred_at=T0), T0 + timedelta(hours=99), 72
    )


def test_a_refund_gives_the_usage_back_once_and_lowers_the_period_use() -> None:
    account = open_account("acc", CreditPlan(monthly_allotment=10, credits_per_unit=3), T0).account
    charged = record_usage(account, "thread:t", 3, set()).account
    refunded = record_refund(charged, "thread:t", 3, set(), charged_at=T0)
    assert (refunded.account.balance, refunded.account.used_this_period) == (10, 0)
    assert [entry.kind for entry in refunded.entries] == [EntryKind.REFUND]
    assert not record_refund(refunded.account, "thread:t", 3, {(EntryKind.REFUND, "thread:t")}, charged_at=T0).changed


def at(event_type: str, minutes: int) -> tuple[str, datetime]:
    """An event that happened ``minutes`` after T0."""
    return event_type, T0 + timedelta(minutes=minutes)


# A conversation handed off to a person, who closed it; the visitor wrote again, the agent answered and resolved it.
HANDED_OFF, CLOSED = at(CONVERSATION_HANDED_OFF, 5), at(THREAD_CLOSED, 30)
REOPENED_ANSWER, REOPENED_RESOLVED = at(CONVERSATION_ANSWERED, 60), at(CONVERSATION_RESOLVED, 120)


@pytest.mark.parametrize(
    "heard",
    [
        [ANSWER, HANDED_OFF, CLOSED, REOPENED_ANSWER, REOPENED_RESOLVED],
        [ANSWER, CLOSED, HANDED_OFF, REOPENED_ANSWER, REOPENED_RESOLVED],  # the close heard before its handoff
        [ANSWER, HANDED_OFF, REOPENED_ANSWER, CLOSED, REOPENED_RESOLVED],  # the close heard after the new answer
        [ANSWER, REOPENED_ANSWER, REOPENED_RESOLVED, CLOSED, HANDED_OFF],  # charged before either is heard
        [ANSWER, HANDED_OFF, CLOSED, REOPENED_ANSWER, at(THREAD_CLOSED, 61), REOPENED_RESOLVED],  # a close sent again
        [ANSWER, HANDED_OFF, CLOSED, at(THREAD_CLOSED, 31), REOPENED_ANSWER, REOPENED_RESOLVED],
    ],
)
def test_the_conversation_after_a_persons_close_is_charged_when_the_agent_resolves_it(
    heard: list[tuple[str, datetime]],
) -> None:
    facts, net = hear(heard)
    assert (net, facts.charged, facts.resolved_at) == (1, True, REOPENED_RESOLVED[1])


def test_a_reopened_thread_the_agent_answered_is_charged_once_quiet() -> None:
    facts, _ = hear([ANSWER, HANDED_OFF, CLOSED, REOPENED_ANSWER])
    assert quietly_resolved(facts, REOPENED_ANSWER[1] + timedelta(hours=72), 72)
    assert not quietly_resolved(hear([ANSWER, HANDED_OFF, CLOSED])[0], T0 + timedelta(days=30), 72)


@pytest.mark.parametrize(
    "heard",
    [
        # conversation's quiet resolution of the person's conversation, after the close: the agent never answered
        [ANSWER, HANDED_OFF, CLOSED, at(CONVERSATION_RESOLVED, 72 * 60)],
        [ANSWER, HANDED_OFF, CLOSED, REOPENED_ANSWER, at(CONVERSATION_HANDED_OFF, 90), REOPENED_RESOLVED],
        [ANSWER, HANDED_OFF, at(THREAD_REASSIGNED, 40), CLOSED, REOPENED_ANSWER, REOPENED_RESOLVED],
        # resolved before the close: the person's conversation still
        [ANSWER, HANDED_OFF, at(CONVERSATION_RESOLVED, 20), CLOSED, REOPENED_ANSWER],
        # a handoff in the new conversation, before its resolution, heard after the charge: taken back
        [ANSWER, HANDED_OFF, CLOSED, REOPENED_ANSWER, REOPENED_RESOLVED, at(CONVERSATION_HANDED_OFF, 90)],
        # a resolution charged before the close was heard, of the conversation the handoff (heard last) gave away
        [ANSWER, at(CONVERSATION_RESOLVED, 10), CLOSED, HANDED_OFF],
    ],
)
def test_a_persons_conversation_stays_free_until_the_agent_answers_after_the_close(
    heard: list[tuple[str, datetime]],
) -> None:
    assert hear(heard)[1] == 0


def test_a_close_of_the_agents_own_conversation_ends_no_later_handoff() -> None:
    """The agent's thread closed by a person is no handoff; a handoff after it still makes the thread a person's."""
    assert hear([ANSWER, at(THREAD_CLOSED, 1), HANDED_OFF, REOPENED_ANSWER, REOPENED_RESOLVED])[1] == 0
    assert hear([ANSWER, at(THREAD_CLOSED, 1), REOPENED_RESOLVED])[1] == 1


def test_what_follows_a_charged_resolution_cannot_hide_the_close_before_it() -> None:
    """A handoff heard last, from before the close that ended it, leaves the charge, however many conversations
    (handed off, closed, answered) came after the charged one."""
    later = [at(CONVERSATION_HANDED_OFF, 200), at(THREAD_CLOSED, 210), at(CONVERSATION_ANSWERED, 220)]
    assert hear([ANSWER, CLOSED, REOPENED_ANSWER, REOPENED_RESOLVED, *later, HANDED_OFF])[1] == 1


def test_a_handoff_recorded_without_its_time_is_never_ended() -> None:
    """A billing before the times kept only that the thread was handed off: no close is known to follow it."""
    legacy = ThreadFacts(answered=True, handed_off=True, last_activity_at=T0)
    assert hear([CLOSED, REOPENED_ANSWER, REOPENED_RESOLVED], start=legacy)[1] == 0


def test_per_conversation_a_reopened_thread_is_not_charged_again() -> None:
    facts, net = hear([ANSWER, HANDED_OFF, CLOSED, REOPENED_ANSWER, REOPENED_RESOLVED], PricingRule.PER_CONVERSATION)
    assert (net, facts.charged, facts.resolved_at) == (1, True, None)
    assert hear([HANDED_OFF, CLOSED, REOPENED_ANSWER], PricingRule.PER_CONVERSATION)[1] == 1
