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


def hear(events: list[tuple[str, datetime]]) -> tuple[ThreadFacts, int]:
    """Feed events in the order billing hears them (each with when it happened): facts and credits net."""
    facts, net = ThreadFacts(), 0
    for event_type, at in events:
        before = facts
        facts = observe(facts, event_type, billable=True, feedback=None, occurred_at=at)
        if refund_due(before, event_type, at):
            facts, net = replace(facts, resolved_at=None), net - 1
        if charge_for_event(RES, event_type, facts):
            facts, net = replace(facts, charged=True, resolved_at=at), net + 1
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
    refunded = record_refund(charged, "thread:t", 3, set())
    assert (refunded.account.balance, refunded.account.used_this_period) == (10, 0)
    assert [entry.kind for entry in refunded.entries] == [EntryKind.REFUND]
    assert not record_refund(refunded.account, "thread:t", 3, {(EntryKind.REFUND, "thread:t")}).changed
