"""Billing's use cases on a fake unit of work: the ledger they write and the credit states they publish."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from billing_service.adapters.repositories import AccountCounts
from billing_service.domain.ledger import CreditAccount, EntryKind
from billing_service.handlers.commands import CreditCommands
from billing_service.handlers.ledger_writer import LedgerPolicy
from billing_service.handlers.metering import ConversationMetering, InboxMetering
from billing_service.handlers.scheduler import BillingScheduler, UnreadableAccountError
from billing_service.metrics import ACCOUNTS_DUE_FOR_RESET
from customer_agent_shared.events.billing import (
    CREDITS_EXHAUSTED,
    CREDITS_OPEN,
    CREDITS_PLAN_CHANGE,
    CREDITS_PLAN_SET,
    CREDITS_PURCHASE,
    CREDITS_RESTORED,
    CREDITS_STATE,
    BillingCommand,
    CreditPlan,
    CreditPlanChange,
    CreditState,
    PricingRule,
)
from customer_agent_shared.events.channels import Assignee, AssigneeKind
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_HANDED_OFF,
    CONVERSATION_RESOLVED,
    ConversationEvent,
)
from customer_agent_shared.events.envelope import RawCloudEvent, make_event
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    ClosedBy,
    ThreadClosed,
    ThreadReassigned,
)
from customer_agent_shared.messaging.failures import TransientHandlerError
from customer_agent_shared.topics import BILLING_CREDIT_STATE
from prometheus_client import REGISTRY

from .fakes import FakeAccounts, FakeDatabase, FakeUnitOfWork, Tables

ACCOUNT = "acc-1"
T0 = datetime(2026, 11, 21, 12, tzinfo=UTC)


@dataclass
class Billing:
    """Billing's use cases over one fake database, with a clock the test moves."""

    plan: CreditPlan
    now: datetime = T0
    database: FakeDatabase = field(default_factory=lambda: FakeDatabase(Tables()))

    def unit_of_work(self) -> FakeUnitOfWork:
        """A new fake unit of work over the database."""
        return FakeUnitOfWork(self.database)

    def clock(self) -> datetime:
        """The test's time."""
        return self.now

    def _options(self) -> dict[str, Any]:
        return {"policy": LedgerPolicy(default_plan=self.plan), "clock": self.clock}

    async def command(self, command_id: str, event_type: str = CREDITS_PURCHASE, **fields: Any) -> bool:
        """Apply one command under a new event id."""
        command = BillingCommand(account_id=ACCOUNT, command_id=command_id, **fields)
        event = make_event(event_type, command, source="admin-api", account_id=ACCOUNT)
        return await CreditCommands(self.unit_of_work, consumer="billing:commands", **self._options()).handle(event)

    async def conversation(self, event_type: str, thread: str, *, at: datetime, billable: bool = True) -> bool:
        """Meter one event from conversation (or routing) about a thread."""
        data = ConversationEvent(account_id=ACCOUNT, thread_id=thread, occurred_at=at, billable=billable)
        metering = ConversationMetering(self.unit_of_work, consumer="billing:conversations", **self._options())
        return await metering.handle(make_event(event_type, data, source="conversation", account_id=ACCOUNT))

    async def reassigned(self, thread: str) -> bool:
        """Meter a person taking the thread in the inbox."""
        data = ThreadReassigned(account_id=ACCOUNT, thread_id=thread, assignee=Assignee(kind=AssigneeKind.UNASSIGNED))
        return await self._inbox(THREAD_REASSIGNED, data)

    async def closed(self, thread: str) -> bool:
        """Meter a person closing the thread in the inbox, now."""
        data = ThreadClosed(
            account_id=ACCOUNT, thread_id=thread, closed_by=ClosedBy(kind="user", id="ada"), resolved=True
        )
        return await self._inbox(THREAD_CLOSED, data)

    async def _inbox(self, event_type: str, data: ThreadReassigned | ThreadClosed) -> bool:
        event = make_event(event_type, data, source="inbox", account_id=ACCOUNT, time=self.now)
        metering = InboxMetering(self.unit_of_work, consumer="billing:inbox", **self._options())
        return await metering.handle(RawCloudEvent.model_validate(event.model_dump(mode="json")))

    def scheduler(self) -> BillingScheduler:
        """The time-driven use cases."""
        return BillingScheduler(self.unit_of_work, interval_seconds=60, **self._options())

    def balance(self) -> int:
        """The committed balance."""
        return self.database.tables.accounts[ACCOUNT].balance

    def entries(self) -> list[tuple[str, int]]:
        """The committed ledger: (kind, amount), oldest first."""
        return [(entry.kind, entry.amount) for entry in self.database.tables.ledger[ACCOUNT]]

    def state_types(self) -> list[str]:
        """The committed credit-state events, by type."""
        return [event.type for topic, _, event in self.database.published if topic == BILLING_CREDIT_STATE]

    def published_plan(self) -> CreditPlan:
        """The plan of the latest committed credit state."""
        states = [event.data for topic, _, event in self.database.published if topic == BILLING_CREDIT_STATE]
        assert isinstance(states[-1], CreditState)
        return states[-1].plan


async def test_a_purchase_applies_once_even_when_the_command_comes_again_under_a_new_event() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10))

    assert await billing.command("c-1", credits=5)
    assert not await billing.command("c-1", credits=5)

    assert billing.balance() == 15
    assert billing.entries() == [(EntryKind.ALLOTMENT, 10), (EntryKind.PURCHASE, 5)]
    assert billing.state_types() == [CREDITS_STATE, CREDITS_STATE]  # opened, then bought


async def test_a_purchase_repeated_after_its_command_id_expired_is_refused_by_its_ledger_entry() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10))
    assert await billing.command("c-1", credits=5)
    billing.database.tables.commands.clear()  # what the retention sweep does after 14 days

    assert not await billing.command("c-1", credits=5)

    assert billing.database.tables.commands == {(ACCOUNT, "c-1")}
    assert billing.balance() == 15
    assert billing.entries() == [(EntryKind.ALLOTMENT, 10), (EntryKind.PURCHASE, 5)]
    assert billing.state_types() == [CREDITS_STATE, CREDITS_STATE]  # nothing published for the repeat


async def test_a_conversation_is_charged_once_when_first_answered_and_a_preview_is_free() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10))

    for minutes in (0, 5):
        await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=T0 + timedelta(minutes=minutes))
    await billing.conversation(CONVERSATION_ANSWERED, "preview:p-1", at=T0, billable=False)

    assert billing.balance() == 9
    assert billing.entries() == [(EntryKind.ALLOTMENT, 10), (EntryKind.USAGE, -1)]


async def test_running_out_publishes_exhausted_and_a_purchase_publishes_restored() -> None:
    billing = Billing(CreditPlan(monthly_allotment=2))

    for thread in ("t-1", "t-2"):
        await billing.conversation(CONVERSATION_ANSWERED, thread, at=T0)
    assert billing.state_types()[-1] == CREDITS_EXHAUSTED
    await billing.command("c-1", credits=5)

    assert billing.state_types()[-1] == CREDITS_RESTORED
    assert billing.balance() == 5


async def test_a_resolution_handed_off_before_it_counted_is_refunded_and_a_reassigned_thread_never_charged() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10, pricing_rule=PricingRule.PER_RESOLUTION))
    resolved_at = T0 + timedelta(hours=72)
    for thread in ("handed", "reassigned"):
        await billing.conversation(CONVERSATION_ANSWERED, thread, at=T0)
    await billing.conversation(CONVERSATION_RESOLVED, "handed", at=resolved_at)
    assert billing.balance() == 9

    await billing.conversation(CONVERSATION_HANDED_OFF, "handed", at=T0 + timedelta(hours=1))  # arrives late
    await billing.reassigned("reassigned")
    await billing.conversation(CONVERSATION_RESOLVED, "reassigned", at=resolved_at)

    assert billing.balance() == 10
    assert [kind for kind, _ in billing.entries()] == [EntryKind.ALLOTMENT, EntryKind.USAGE, EntryKind.REFUND]


@pytest.mark.parametrize("quietly", [False, True])
async def test_a_thread_a_person_closed_is_charged_when_the_agent_resolves_the_next_conversation(quietly: bool) -> None:
    billing = Billing(CreditPlan(monthly_allotment=10, pricing_rule=PricingRule.PER_RESOLUTION, resolution_hours=72))
    await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=T0)
    await billing.conversation(CONVERSATION_HANDED_OFF, "t-1", at=T0 + timedelta(minutes=1))
    for minutes in (30, 31):  # the person's close, and the same close sent again under a new id
        billing.now = T0 + timedelta(minutes=minutes)
        assert await billing.closed("t-1")
    reopened = T0 + timedelta(hours=1)
    await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=reopened)  # the visitor wrote again
    billing.now = reopened + timedelta(hours=73)
    if quietly:
        await billing.scheduler().run_once()
    else:
        await billing.conversation(CONVERSATION_RESOLVED, "t-1", at=reopened + timedelta(hours=72))

    assert [kind for kind, _ in billing.entries()] == [EntryKind.ALLOTMENT, EntryKind.USAGE]


@pytest.mark.parametrize("rule", list(PricingRule))
async def test_a_thread_written_to_again_after_its_resolution_is_never_charged_again(rule: PricingRule) -> None:
    billing = Billing(CreditPlan(monthly_allotment=10, pricing_rule=rule))
    resolved_at = T0 + timedelta(hours=72)
    await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=T0)
    await billing.conversation(CONVERSATION_RESOLVED, "t-1", at=resolved_at)
    # The visitor writes again: routing and conversation greet them as on a new conversation, billing charges
    # the thread once in its whole life (the contract does not say a reopened thread is a new charge).
    for again in (resolved_at + timedelta(days=5), resolved_at + timedelta(days=100)):
        billing.now = again
        await billing.scheduler().run_once()  # forgets threads quiet for 90 days
        forgotten = (ACCOUNT, "t-1") not in billing.database.tables.threads
        await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=again)
        await billing.conversation(CONVERSATION_RESOLVED, "t-1", at=again + timedelta(hours=72))

    assert forgotten  # the last time, billing had forgotten the thread; its usage entry stayed in the ledger
    assert [amount for kind, amount in billing.entries() if kind == EntryKind.USAGE] == [-1]


@pytest.mark.parametrize("quietly", [False, True])
async def test_a_later_conversations_handoff_never_takes_back_the_charge_of_a_forgotten_thread(quietly: bool) -> None:
    billing = Billing(CreditPlan(monthly_allotment=10, pricing_rule=PricingRule.PER_RESOLUTION, resolution_hours=72))
    await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=T0)
    await billing.conversation(CONVERSATION_RESOLVED, "t-1", at=T0 + timedelta(hours=72))  # charged
    later = T0 + timedelta(days=100)
    billing.now = later
    await billing.scheduler().run_once()  # quiet for 90 days: billing forgets the thread, the ledger keeps it
    await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=later)  # the visitor writes again
    if quietly:
        billing.now = later + timedelta(hours=73)
        await billing.scheduler().run_once()
    else:
        await billing.conversation(CONVERSATION_RESOLVED, "t-1", at=later + timedelta(hours=72))

    # Routing's handoff in that later conversation, heard late: it was no AI resolution, but nor was it charged.
    await billing.conversation(CONVERSATION_HANDED_OFF, "t-1", at=later + timedelta(hours=1))

    assert [kind for kind, _ in billing.entries() if kind in (EntryKind.USAGE, EntryKind.REFUND)] == [EntryKind.USAGE]


async def test_the_scheduler_charges_a_quiet_thread_and_the_monthly_reset_restores_credits() -> None:
    plan = CreditPlan(monthly_allotment=1, pricing_rule=PricingRule.PER_RESOLUTION, resolution_hours=72)
    billing = Billing(plan)
    await billing.conversation(CONVERSATION_ANSWERED, "quiet", at=T0)

    billing.now = T0 + timedelta(hours=71)
    assert await billing.scheduler().run_once() == 0
    billing.now = T0 + timedelta(hours=73)
    assert await billing.scheduler().run_once() == 1
    assert await billing.scheduler().run_once() == 0  # charged once
    assert (billing.balance(), billing.state_types()[-1]) == (0, CREDITS_EXHAUSTED)

    billing.now = datetime(2026, 12, 1, 1, tzinfo=UTC)  # past the reset on the 1st
    assert await billing.scheduler().run_once() == 1
    assert (billing.balance(), billing.state_types()[-1]) == (1, CREDITS_RESTORED)


@pytest.mark.parametrize("database_failing", [False, True])
async def test_a_quiet_charge_whose_account_cannot_be_read_is_skipped_but_a_failing_database_fails_the_pass(
    monkeypatch: pytest.MonkeyPatch, database_failing: bool
) -> None:
    billing = Billing(CreditPlan(monthly_allotment=5, pricing_rule=PricingRule.PER_RESOLUTION, resolution_hours=72))
    await billing.conversation(CONVERSATION_ANSWERED, "quiet", at=T0)
    billing.now = T0 + timedelta(hours=73)
    error = TransientHandlerError("connection lost") if database_failing else ValueError("a plan from a newer release")

    async def unreadable(accounts: FakeAccounts, account_id: str) -> CreditAccount:
        raise error

    monkeypatch.setattr(FakeAccounts, "lock", unreadable)
    skipped, passes_failed = sample(QUIET_CHARGE_FAILURES), sample(PASS_FAILURES)

    if database_failing:
        with pytest.raises(UnreadableAccountError) as raised:
            await billing.scheduler().run_pass()
        assert raised.value.__cause__ is error
    else:
        assert await billing.scheduler().run_once() == 0
    assert (sample(QUIET_CHARGE_FAILURES) - skipped, sample(PASS_FAILURES) - passes_failed) == (
        (0, 1) if database_failing else (1, 0)
    )


async def test_a_pass_whose_gauges_cannot_be_counted_ends_normally_and_the_gauges_keep_their_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    billing = Billing(CreditPlan(monthly_allotment=1))
    await billing.command("buy-1", credits=5)
    ACCOUNTS_DUE_FOR_RESET.set(7)  # as counted by an earlier pass

    async def database_gone(accounts: FakeAccounts, now: datetime) -> AccountCounts:
        raise ConnectionRefusedError("database gone")

    monkeypatch.setattr(FakeAccounts, "count", database_gone)
    failures = sample(PASS_FAILURES)
    billing.now = datetime(2026, 12, 1, 1, tzinfo=UTC)
    assert await billing.scheduler().run_once() == 1  # the reset
    assert sample("customer_agent_billing_accounts_due_for_reset") == 7
    assert sample(PASS_FAILURES) == failures


QUIET_CHARGE_FAILURES = "customer_agent_billing_quiet_charge_failures_total"
PASS_FAILURES = "customer_agent_billing_scheduler_pass_failures_total"


def sample(name: str) -> float:
    """A metric's value in this process (0 before its first change)."""
    return REGISTRY.get_sample_value(name) or 0.0


async def test_opening_an_account_publishes_its_default_plan_once() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10, resolution_hours=24))

    assert await billing.command("open-1", CREDITS_OPEN)
    assert not await billing.command("open-1", CREDITS_OPEN)  # the same command again, under a new event id
    billing.database.tables.commands.clear()  # its id expired: the account being open is enough
    assert not await billing.command("open-1", CREDITS_OPEN)

    assert billing.entries() == [(EntryKind.ALLOTMENT, 10)]
    assert billing.state_types() == [CREDITS_STATE]
    assert billing.published_plan() == CreditPlan(monthly_allotment=10, resolution_hours=24)


async def test_opening_an_account_billing_already_opened_on_a_conversation_changes_nothing() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10))
    await billing.conversation(CONVERSATION_ANSWERED, "t-1", at=T0)

    assert not await billing.command("open-1", CREDITS_OPEN)

    assert billing.entries() == [(EntryKind.ALLOTMENT, 10), (EntryKind.USAGE, -1)]
    assert billing.state_types() == [CREDITS_STATE, CREDITS_STATE]


async def test_a_plan_change_merges_onto_the_current_plan() -> None:
    billing = Billing(CreditPlan(monthly_allotment=1000, resolution_hours=24))
    await billing.command("c-1", CREDITS_PLAN_CHANGE, plan_change=CreditPlanChange(monthly_allotment=10))

    await billing.command(
        "c-2", CREDITS_PLAN_CHANGE, plan_change=CreditPlanChange(auto_upgrade_pack_credits=50, auto_upgrade_limit=1)
    )

    assert billing.published_plan() == CreditPlan(
        monthly_allotment=10, resolution_hours=24, auto_upgrade_pack_credits=50, auto_upgrade_limit=1
    )
    assert billing.balance() == 10
    assert billing.entries() == [(EntryKind.ALLOTMENT, 1000), (EntryKind.ALLOTMENT, -990), (EntryKind.ALLOTMENT, 0)]


async def test_a_plan_change_for_an_account_billing_does_not_know_merges_onto_the_default_plan() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10, reset_day=15, timezone="Europe/Copenhagen"))

    assert await billing.command("c-1", CREDITS_PLAN_CHANGE, plan_change=CreditPlanChange(auto_upgrade_limit=2))

    assert billing.published_plan() == CreditPlan(
        monthly_allotment=10, reset_day=15, timezone="Europe/Copenhagen", auto_upgrade_limit=2
    )
    assert billing.balance() == 10


async def test_a_whole_plan_set_from_before_plan_changes_still_replaces_the_plan() -> None:
    billing = Billing(CreditPlan(monthly_allotment=10))
    await billing.command("c-1", CREDITS_PLAN_CHANGE, plan_change=CreditPlanChange(resolution_hours=24))

    assert await billing.command("c-2", CREDITS_PLAN_SET, plan=CreditPlan(monthly_allotment=20))

    assert billing.published_plan() == CreditPlan(monthly_allotment=20)  # resolution_hours back to the plan's
    assert billing.balance() == 20
