"""GET /performance's credits used are billing's: the days its credit states report, not a guess from the
conversations (a thread the agent never answered is a conversation billing did not charge); a state restating the
days (a refund counted with its charge) replaces what an older one said of them."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from customer_agent_shared.events.billing import CREDITS_STATE, USAGE_DAYS, CreditPlan, CreditState
from customer_agent_shared.events.channels import HandoffReason
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import derived_event_id, make_event, serialize_event
from customer_agent_shared.testing.kafka import produce_raw
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import BILLING_CREDIT_STATE, CONVERSATIONS_EVENTS

from .harness import Account, Harness, get_until

pytestmark = pytest.mark.integration

# Above any version billing itself reaches for the test's account (the stack's billing, if it runs, opens it too).
VERSION = 1000


async def _billing_publishes(
    harness: Harness, account: Account, *, version: int, used_this_period: int, usage_by_day: dict[date, int]
) -> str:
    """A credit state as billing publishes it after a charge, its period (a UTC plan's) begun today; the event's
    id."""
    today = datetime.combine(datetime.now(UTC).date(), time.min, tzinfo=UTC)
    plan = CreditPlan()
    state = CreditState(
        account_id=account.id,
        balance=plan.monthly_allotment - used_this_period,
        allotment=plan.monthly_allotment,
        used_this_period=used_this_period,
        reset_at=today + timedelta(days=30),
        exhausted=False,
        plan=plan,
        version=version,
        cause="usage",
        period_start=today,
        usage_by_day=usage_by_day,
    )
    event_id = derived_event_id(account.id, f"credit-state:{version}")
    event = make_event(CREDITS_STATE, state, source="billing", account_id=account.id, event_id=event_id)
    await produce_raw(
        harness.settings.kafka_bootstrap_servers, BILLING_CREDIT_STATE, serialize_event(event), key=account.id.encode()
    )
    return event.id


async def _conversation_says(harness: Harness, account: Account, kind: str, thread: str, **fields: object) -> None:
    """A conversation event as conversation (or, for handed_off, routing) publishes it."""
    data = ConversationEvent.model_validate(
        {"account_id": account.id, "thread_id": thread, "occurred_at": datetime.now(UTC), **fields}
    )
    event = make_event(f"conversation.{kind}", data, source="conversation-test", account_id=account.id)
    await produce_raw(
        harness.settings.kafka_bootstrap_servers,
        CONVERSATIONS_EVENTS,
        serialize_event(event),
        key=f"{account.id}:{thread}".encode(),
    )


async def test_the_credits_used_are_what_billing_charged_on_the_days_asked_for(harness: Harness) -> None:
    account = await harness.new_account()
    today = datetime.now(UTC).date()
    earlier = today - timedelta(days=3)
    # Three conversations today: answered (charged), a question the agent could not answer (never charged),
    # answered and then handed off (charged once: per conversation, a handoff takes nothing back).
    await _conversation_says(harness, account, "answered", "t1", question="Opening hours?", answer="9-5.")
    await _conversation_says(harness, account, "knowledge_gap", "t2", question="hi bin")
    await _conversation_says(harness, account, "answered", "t3", question="Returns?", answer="30 days.")
    await _conversation_says(harness, account, "handed_off", "t3", reason=HandoffReason.VISITOR_REQUEST)
    states = [
        await _billing_publishes(
            harness, account, version=VERSION, used_this_period=1, usage_by_day={earlier: 4, today: 1}
        ),
        await _billing_publishes(
            harness, account, version=VERSION + 2, used_this_period=2, usage_by_day={earlier: 4, today: 2}
        ),
        # A state older than the one kept changes no day (as a redelivered one would).
        await _billing_publishes(harness, account, version=VERSION + 1, used_this_period=1, usage_by_day={today: 7}),
    ]
    await eventually(lambda: harness.handled(*states), "admin-api folded the credit states")

    whole = await get_until(harness, account, "/performance", lambda body: body["conversations"] == 3)
    assert whole["credits_used"] == 6  # the 30 days up to today: 4 three days ago, 2 today
    on_today = await get_until(harness, account, _days(today, today), lambda body: body["conversations"] == 3)
    credits = await get_until(harness, account, "/credits", lambda body: body["known"])
    assert on_today["credits_used"] == credits["used_this_period"] == 2  # the period began today: the same figure
    assert (await get_until(harness, account, _days(earlier, earlier), lambda body: True))["credits_used"] == 4
    before = today - timedelta(days=40)
    assert (await get_until(harness, account, _days(before, before), lambda body: True))["credits_used"] == 0


async def test_a_refund_early_in_a_period_of_the_last_periods_charge_leaves_both_figures_equal(
    harness: Harness,
) -> None:
    account = await harness.new_account()
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    # 3 charged yesterday, the last day of the previous period; today, the period's first, that charge refunded and
    # 3 charged. A billing of the release before counted the refund today (and floored its period's use at zero);
    # the next state, of this release, restates every day with the refund on its charge's day.
    days = {today - timedelta(days=back): 0 for back in range(USAGE_DAYS)}
    states = [
        await _billing_publishes(
            harness, account, version=VERSION, used_this_period=3, usage_by_day={yesterday: 3, today: 0}
        ),
        await _billing_publishes(
            harness, account, version=VERSION + 1, used_this_period=3, usage_by_day={**days, today: 3}
        ),
    ]
    await eventually(lambda: harness.handled(*states), "admin-api folded the credit states")

    credits = await get_until(harness, account, "/credits", lambda body: body["known"])
    period = await get_until(harness, account, _days(today, today), lambda body: True)
    assert period["credits_used"] == credits["used_this_period"] == 3
    assert (await get_until(harness, account, _days(yesterday, yesterday), lambda body: True))["credits_used"] == 0


def _days(first: date, last: date) -> str:
    return f"/performance?from={first.isoformat()}&to={last.isoformat()}"
