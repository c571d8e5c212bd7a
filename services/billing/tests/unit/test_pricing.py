"""When a thread becomes chargeable, per conversation or per resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from billing_service.domain.pricing import (
    ThreadFacts,
    charge_for_event,
    observe,
    quietly_resolved,
    usage_cause,
)
from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    CONVERSATION_FEEDBACK,
    CONVERSATION_HANDOFF_REQUESTED,
    CONVERSATION_KNOWLEDGE_GAP,
    CONVERSATION_RESOLVED,
)

T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)
CONV = PricingRule.PER_CONVERSATION
RES = PricingRule.PER_RESOLUTION


def run(events: list[tuple[str, bool, str | None]]) -> ThreadFacts:
    facts = ThreadFacts()
    for minute, (event_type, billable, feedback) in enumerate(events):
        facts = observe(
            facts, event_type, billable=billable, feedback=feedback, occurred_at=T0 + timedelta(minutes=minute)
        )
    return facts


@pytest.mark.parametrize(
    ("rule", "history", "event", "charge"),
    [
        (CONV, [], (CONVERSATION_ANSWERED, True, None), True),
        (CONV, [], (CONVERSATION_ANSWERED, False, None), False),  # preview/test: never charged
        (CONV, [], (CONVERSATION_CANNOT_ANSWER, True, None), False),
        (CONV, [], (CONVERSATION_KNOWLEDGE_GAP, True, None), False),
        (CONV, [(CONVERSATION_ANSWERED, False, None)], (CONVERSATION_ANSWERED, True, None), False),  # test thread
        (CONV, [], (CONVERSATION_RESOLVED, True, None), False),
        (RES, [], (CONVERSATION_ANSWERED, True, None), False),
        (RES, [(CONVERSATION_ANSWERED, True, None)], (CONVERSATION_RESOLVED, True, None), True),
        (RES, [(CONVERSATION_ANSWERED, False, None)], (CONVERSATION_RESOLVED, False, None), False),
        (RES, [], (CONVERSATION_RESOLVED, True, None), False),  # the agent never replied
        (
            RES,
            [(CONVERSATION_ANSWERED, True, None), (CONVERSATION_HANDOFF_REQUESTED, True, None)],
            (CONVERSATION_RESOLVED, True, None),
            False,
        ),
        (
            RES,
            [(CONVERSATION_ANSWERED, True, None), (CONVERSATION_FEEDBACK, True, "negative")],
            (CONVERSATION_RESOLVED, True, None),
            False,
        ),
        (
            RES,
            [(CONVERSATION_ANSWERED, True, None), (CONVERSATION_FEEDBACK, True, "positive")],
            (CONVERSATION_RESOLVED, True, None),
            True,
        ),
    ],
)
def test_charge_for_event(
    rule: PricingRule, history: list[tuple[str, bool, str | None]], event: tuple[str, bool, str | None], charge: bool
) -> None:
    facts = run([*history, event])
    assert charge_for_event(rule, event[0], facts) is charge


@pytest.mark.parametrize("rule", [CONV, RES])
def test_a_charged_thread_is_never_charged_again(rule: PricingRule) -> None:
    facts = run([(CONVERSATION_ANSWERED, True, None)])
    charged = ThreadFacts(**{**facts.__dict__, "charged": True})
    assert not charge_for_event(rule, CONVERSATION_ANSWERED, charged)
    assert not charge_for_event(rule, CONVERSATION_RESOLVED, charged)


@pytest.mark.parametrize(
    ("history", "quiet_hours", "resolved"),
    [
        ([(CONVERSATION_ANSWERED, True, None)], 72, True),
        ([(CONVERSATION_ANSWERED, True, None)], 71, False),
        ([(CONVERSATION_CANNOT_ANSWER, True, None)], 100, False),
        ([(CONVERSATION_ANSWERED, True, None), (CONVERSATION_HANDOFF_REQUESTED, True, None)], 100, False),
        ([(CONVERSATION_ANSWERED, True, None), (CONVERSATION_FEEDBACK, True, "Negative")], 100, False),
        ([(CONVERSATION_ANSWERED, False, None)], 100, False),
    ],
)
def test_quietly_resolved(history: list[tuple[str, bool, str | None]], quiet_hours: int, resolved: bool) -> None:
    facts = run(history)
    assert facts.last_activity_at is not None
    assert quietly_resolved(facts, facts.last_activity_at + timedelta(hours=quiet_hours), 72) is resolved


def test_late_events_do_not_move_last_activity_back() -> None:
    facts = observe(ThreadFacts(), CONVERSATION_ANSWERED, billable=True, feedback=None, occurred_at=T0)
    facts = observe(facts, CONVERSATION_FEEDBACK, billable=True, feedback=None, occurred_at=T0 - timedelta(hours=1))
    assert facts.last_activity_at == T0


def test_usage_cause_is_the_thread() -> None:
    assert usage_cause("t-1") == "thread:t-1"
