"""The ledger's rules: examples, then properties over arbitrary event streams (hypothesis)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from billing_service.domain.ledger import (
    CreditAccount,
    Decision,
    EntryKey,
    EntryKind,
    LedgerEntry,
    Transition,
    apply_due_reset,
    balance_of,
    change_plan,
    crossing,
    merged_plan,
    open_account,
    record_adjustment,
    record_purchase,
    record_refund,
    record_usage,
    usage_days,
)
from customer_agent_shared.events.billing import USAGE_DAYS, CreditPlan, CreditPlanChange, PricingRule
from hypothesis import given, settings
from hypothesis import strategies as st

from .fakes import credits_used

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
RESET = datetime(2026, 12, 1, tzinfo=UTC)


def opened(allotment: int = 10, **plan: int) -> CreditAccount:
    return open_account("acc", CreditPlan(monthly_allotment=allotment, **plan), NOW).account


# --- examples ---------------------------------------------------------------------------


def test_a_new_account_gets_the_allotment_of_the_current_period() -> None:
    decision = open_account("acc", CreditPlan(monthly_allotment=1000, reset_day=1), NOW)
    assert decision.entries == (LedgerEntry(EntryKind.ALLOTMENT, "period:2026-11-01T00:00:00+00:00", 1000),)
    assert decision.account.balance == 1000
    assert decision.account.reset_at == RESET
    assert decision.account.version == 1
    assert decision.transition is None


def test_an_account_opened_with_no_allotment_starts_exhausted() -> None:
    decision = open_account("acc", CreditPlan(monthly_allotment=0), NOW)
    assert decision.transition is Transition.EXHAUSTED
    assert decision.account.exhausted


@pytest.mark.parametrize(
    ("was_exhausted", "balance", "expected"),
    [
        (False, 5, None),
        (False, 1, None),
        (False, 0, Transition.EXHAUSTED),
        (False, -3, Transition.EXHAUSTED),
        (True, 0, None),
        (True, -1, None),
        (True, 1, Transition.RESTORED),
    ],
)
def test_crossing(was_exhausted: bool, balance: int, expected: Transition | None) -> None:
    assert crossing(was_exhausted, balance) is expected


def test_a_refund_counts_on_the_day_and_in_the_period_of_the_charge_it_takes_back() -> None:
    """A refund early in a period of a charge from the previous one: billing's period use and the days agree."""
    charged_at, refunded_at = RESET - timedelta(hours=2), RESET + timedelta(hours=1)
    account = opened(10, credits_per_unit=3)
    charged = record_usage(account, "thread:old", 3, set())
    reset = apply_due_reset(charged.account, RESET)
    refunded = record_refund(reset.account, "thread:old", 3, set(), charged_at=charged_at)
    again = record_usage(refunded.account, "thread:new", 5, set())
    assert (refunded.account.used_this_period, again.account.used_this_period) == (0, 5)
    assert again.account.balance == reset.account.balance + 3 - 5  # the credits are given back all the same
    entries = [
        (charged.entries[0], charged_at),
        (reset.entries[0], RESET),
        (refunded.entries[0], refunded_at),
        (again.entries[0], refunded_at + timedelta(hours=1)),
    ]
    used = credits_used(entries, period_start=RESET, now=refunded_at + timedelta(hours=2))
    assert used.this_period == 5
    assert (used.by_day[charged_at.date()], used.by_day[RESET.date()]) == (0, 5)
    assert sum(credits for day, credits in used.by_day.items() if day >= RESET.date()) == used.this_period


def test_a_refund_of_this_periods_charge_lowers_its_use_and_no_use_goes_below_zero() -> None:
    charged = record_usage(opened(10, credits_per_unit=3), "thread:t", 3, set())
    refunded = record_refund(charged.account, "thread:t", 3, set(), charged_at=NOW)
    assert refunded.account.used_this_period == 0
    entries = [(charged.entries[0], NOW), (refunded.entries[0], NOW + timedelta(days=1))]
    used = credits_used(entries, period_start=charged.account.period_start, now=NOW + timedelta(days=1))
    assert used.this_period == 0
    assert used.by_day[NOW.date()] == 0  # the charge's day, not the refund's
    assert set(used.by_day.values()) == {0}


def test_the_credits_used_are_reported_for_every_one_of_the_last_usage_days() -> None:
    days = usage_days(NOW)
    assert (len(days), days[-1], days[0]) == (USAGE_DAYS, NOW.date(), (NOW - timedelta(days=USAGE_DAYS - 1)).date())
    old, kept = LedgerEntry(EntryKind.USAGE, "thread:old", -1), LedgerEntry(EntryKind.USAGE, "thread:kept", -2)
    bought = LedgerEntry(EntryKind.PURCHASE, "cmd_1", 50)  # no usage
    orphan = LedgerEntry(EntryKind.REFUND, "thread:gone", 4)  # its charge is not among the entries: not counted
    entries = [(old, NOW - timedelta(days=USAGE_DAYS)), (kept, NOW - timedelta(days=USAGE_DAYS - 1)), (bought, NOW)]
    used = credits_used([*entries, (orphan, NOW)], period_start=NOW - timedelta(days=60), now=NOW)
    assert used.by_day == {day: 2 if day == days[0] else 0 for day in days}
    assert used.this_period == 3  # a period longer than the days reported still counts all its charges


def test_usage_is_charged_once_per_cause() -> None:
    account = opened(10)
    first = record_usage(account, "thread:t1", 3, set())
    again = record_usage(first.account, "thread:t1", 3, {e.key for e in first.entries})
    assert first.account.balance == 7
    assert first.account.used_this_period == 3
    assert not again.changed
    assert again.account == first.account


def test_reaching_zero_exhausts_and_a_purchase_restores() -> None:
    account = opened(2)
    account = record_usage(account, "thread:a", 1, set()).account
    exhausting = record_usage(account, "thread:b", 1, set())
    assert exhausting.transition is Transition.EXHAUSTED
    still = record_usage(exhausting.account, "thread:c", 1, set())
    assert still.transition is None
    assert still.account.balance == -1
    restoring = record_purchase(still.account, "command:p1", 5, set())
    assert restoring.transition is Transition.RESTORED
    assert restoring.account.balance == 4
    assert restoring.account.purchased_this_period == 5


def test_auto_upgrade_packs_are_bought_up_to_the_limit_instead_of_exhausting() -> None:
    account = opened(1, auto_upgrade_pack_credits=2, auto_upgrade_limit=2)
    first = record_usage(account, "thread:a", 1, set())
    assert [e.kind for e in first.entries] == [EntryKind.USAGE, EntryKind.AUTO_UPGRADE]
    assert first.transition is None
    assert first.account.balance == 2
    account = record_usage(first.account, "thread:b", 2, set()).account
    assert account.auto_upgrades_this_period == 2
    assert account.balance == 2
    last = record_usage(account, "thread:c", 2, set())
    assert last.transition is Transition.EXHAUSTED  # limit reached: no third pack
    assert last.account.auto_upgrades_this_period == 2


def test_auto_upgrade_pack_causes_are_unique_within_a_period() -> None:
    opening = open_account(
        "acc", CreditPlan(monthly_allotment=0, auto_upgrade_pack_credits=1, auto_upgrade_limit=3), NOW
    )
    assert opening.transition is None, "an account opened without allotment buys a pack at once"
    decision = record_usage(opening.account, "thread:a", 3, set())
    keys = [e.key for e in (*opening.entries, *decision.entries) if e.kind is EntryKind.AUTO_UPGRADE]
    assert len(keys) == len(set(keys)) == 3
    assert decision.transition is Transition.EXHAUSTED
    assert decision.account.balance == 0


@pytest.mark.parametrize(
    ("allotment", "used", "purchased", "expected_balance", "expected_amount"),
    [
        (10, 0, 0, 10, 0),  # nothing used: the unused allotment expires and is granted again
        (10, 4, 0, 10, 4),
        (10, 10, 0, 10, 10),  # exhausted: a full new allotment
        (10, 12, 0, 8, 10),  # an overage of 2 carries over as debt
        (10, 4, 5, 15, 4),  # bought credits survive the reset
        (10, 12, 5, 13, 10),  # the allotment is spent first, then 2 of the 5 bought
    ],
)
def test_reset_expires_the_unused_allotment_and_keeps_bought_credits(
    allotment: int, used: int, purchased: int, expected_balance: int, expected_amount: int
) -> None:
    account = opened(allotment)
    if purchased:
        account = record_purchase(account, "command:p", purchased, set()).account
    if used:
        account = record_usage(account, "thread:t", used, set()).account
    decision = apply_due_reset(account, RESET)
    assert decision.entries == (LedgerEntry(EntryKind.RESET, "period:2026-12-01T00:00:00+00:00", expected_amount),)
    assert decision.account.balance == expected_balance
    assert decision.account.used_this_period == 0
    assert decision.account.reset_at == datetime(2027, 1, 1, tzinfo=UTC)


def test_reset_is_not_due_before_the_reset_date() -> None:
    account = opened(10)
    assert not apply_due_reset(account, datetime(2026, 11, 30, 23, 59, tzinfo=UTC)).changed


def test_reset_restores_an_exhausted_account_and_missed_periods_collapse() -> None:
    account = record_usage(opened(2), "thread:a", 2, set()).account
    assert account.exhausted
    decision = apply_due_reset(account, datetime(2027, 3, 5, tzinfo=UTC))
    assert decision.transition is Transition.RESTORED
    assert decision.account.period_start == datetime(2027, 3, 1, tzinfo=UTC)
    assert len(decision.entries) == 1


def test_plan_change_grants_the_allotment_difference_and_moves_the_reset_date() -> None:
    account = record_usage(opened(2), "thread:a", 2, set()).account
    decision = change_plan(
        account, CreditPlan(monthly_allotment=5, reset_day=25, timezone="UTC"), "command:c1", NOW, set()
    )
    assert decision.entries == (LedgerEntry(EntryKind.ALLOTMENT, "command:c1", 3),)
    assert decision.transition is Transition.RESTORED
    assert decision.account.reset_at == datetime(2026, 11, 25, tzinfo=UTC)
    assert not change_plan(decision.account, CreditPlan(), "command:c1", NOW, {decision.entries[0].key}).changed


def test_a_plan_change_keeps_the_fields_it_leaves_out() -> None:
    current = CreditPlan(
        monthly_allotment=10,
        reset_day=15,
        timezone="Europe/Copenhagen",
        pricing_rule=PricingRule.PER_RESOLUTION,
        credits_per_unit=2,
        resolution_hours=24,
    )
    change = CreditPlanChange(auto_upgrade_pack_credits=50, auto_upgrade_limit=1)

    merged = merged_plan(current, change)

    assert merged == current.model_copy(update={"auto_upgrade_pack_credits": 50, "auto_upgrade_limit": 1})
    assert merged_plan(merged, CreditPlanChange(monthly_allotment=0)).monthly_allotment == 0  # 0 is a value
    every_field = CreditPlanChange(**CreditPlan().model_dump())
    assert merged_plan(current, every_field) == CreditPlan()


def test_adjustments_add_or_remove_and_zero_is_a_no_op() -> None:
    account = opened(10)
    assert record_adjustment(account, "command:a", -4, set()).account.balance == 6
    assert record_adjustment(account, "command:b", 4, set()).account.balance == 14
    assert not record_adjustment(account, "command:c", 0, set()).changed


@pytest.mark.parametrize("credits", [0, -1])
def test_non_positive_usage_or_purchase_is_refused(credits: int) -> None:
    with pytest.raises(ValueError, match="usage"):
        record_usage(opened(), "thread:a", credits, set())
    with pytest.raises(ValueError, match="purchase"):
        record_purchase(opened(), "command:a", credits, set())


# --- properties -------------------------------------------------------------------------


@dataclass(frozen=True)
class Op:
    """One event that reaches the ledger: usage of a thread, a purchase or an adjustment command."""

    kind: str
    cause: str
    credits: int


usage_ops = st.builds(Op, st.just("usage"), st.sampled_from([f"thread:{i}" for i in range(12)]), st.integers(1, 5))
command_ops = st.builds(
    Op,
    st.sampled_from(["purchase", "adjust"]),
    st.sampled_from([f"command:{i}" for i in range(6)]),
    st.integers(1, 20),
)


def _ops_without_repeated_causes(ops: list[Op]) -> list[Op]:
    """A cause identifies one event: keep its first occurrence (later ones are replays)."""
    seen: set[str] = set()
    unique = []
    for op in ops:
        if op.cause not in seen:
            seen.add(op.cause)
            unique.append(op)
    return unique


streams = st.lists(st.one_of(usage_ops, command_ops), max_size=40).map(_ops_without_repeated_causes)


@dataclass
class Folded:
    account: CreditAccount
    entries: list[LedgerEntry]
    decisions: list[Decision]


def fold(ops: list[Op], plan: CreditPlan) -> Folded:
    """Apply ``ops`` the way the service does: a cause already recorded is a no-op."""
    opening = open_account("acc", plan, NOW)
    account = opening.account
    entries = list(opening.entries)
    decisions = [opening]
    recorded: set[EntryKey] = {entry.key for entry in entries}
    for op in ops:
        if op.kind == "usage":
            decision = record_usage(account, op.cause, op.credits, recorded)
        elif op.kind == "purchase":
            decision = record_purchase(account, op.cause, op.credits, recorded)
        else:
            decision = record_adjustment(account, op.cause, -op.credits, recorded)
        entries.extend(decision.entries)
        recorded.update(entry.key for entry in decision.entries)
        decisions.append(decision)
        account = decision.account
    return Folded(account, entries, decisions)


plans = st.builds(CreditPlan, monthly_allotment=st.integers(0, 30), credits_per_unit=st.just(1))
auto_plans = st.builds(
    CreditPlan,
    monthly_allotment=st.integers(0, 30),
    auto_upgrade_pack_credits=st.integers(1, 10),
    auto_upgrade_limit=st.integers(0, 4),
)


@settings(max_examples=200)
@given(ops=streams, plan=plans)
def test_balance_is_the_sum_of_the_entries(ops: list[Op], plan: CreditPlan) -> None:
    folded = fold(ops, plan)
    assert folded.account.balance == balance_of(folded.entries)
    keys = [entry.key for entry in folded.entries]
    assert len(keys) == len(set(keys)), "every entry is unique on its cause"


@settings(max_examples=200)
@given(data=st.data(), ops=streams, plan=plans)
def test_replaying_and_reordering_the_same_events_leaves_the_same_balance(
    data: st.DataObject, ops: list[Op], plan: CreditPlan
) -> None:
    replays = data.draw(st.lists(st.sampled_from(ops), max_size=20)) if ops else []
    delivered = data.draw(st.permutations(ops + replays))
    once = fold(ops, plan)
    again = fold(delivered, plan)
    assert again.account.balance == once.account.balance
    assert sorted(e.key for e in again.entries) == sorted(e.key for e in once.entries)
    assert again.account.used_this_period == once.account.used_this_period


@settings(max_examples=200)
@given(data=st.data(), ops=st.lists(usage_ops, max_size=30).map(_ops_without_repeated_causes), plan=auto_plans)
def test_with_auto_upgrade_reordering_usage_buys_the_same_packs(
    data: st.DataObject, ops: list[Op], plan: CreditPlan
) -> None:
    replays = data.draw(st.lists(st.sampled_from(ops), max_size=10)) if ops else []
    delivered = data.draw(st.permutations(ops + replays))
    once = fold(ops, plan)
    again = fold(delivered, plan)
    assert again.account.balance == once.account.balance
    assert again.account.auto_upgrades_this_period == once.account.auto_upgrades_this_period
    assert once.account.auto_upgrades_this_period <= plan.auto_upgrade_limit


@settings(max_examples=300)
@given(ops=streams, plan=plans)
def test_exhaustion_fires_exactly_once_per_crossing(ops: list[Op], plan: CreditPlan) -> None:
    folded = fold(ops, plan)
    balances = [0] + [d.account.balance for d in folded.decisions]  # an account starts at 0, not exhausted
    expected: list[Transition] = []
    exhausted = False
    for balance in balances[1:]:
        if balance <= 0 and not exhausted:
            expected.append(Transition.EXHAUSTED)
        elif balance > 0 and exhausted:
            expected.append(Transition.RESTORED)
        exhausted = balance <= 0
    fired = [d.transition for d in folded.decisions if d.transition is not None]
    assert fired == expected
    assert all(a is not b for a, b in itertools.pairwise(fired)), "transitions alternate"
    assert folded.account.exhausted == (folded.account.balance <= 0)


@settings(max_examples=200)
@given(ops=streams, plan=plans)
def test_a_reset_keeps_the_balance_the_sum_of_the_entries(ops: list[Op], plan: CreditPlan) -> None:
    folded = fold(ops, plan)
    reset = apply_due_reset(folded.account, RESET)
    assert reset.account.balance == balance_of([*folded.entries, *reset.entries])
    before = folded.account.balance
    assert reset.account.balance >= plan.monthly_allotment + min(before, 0), "debt carries, nothing more is lost"
    assert reset.account.balance <= max(before, 0) + plan.monthly_allotment, "at most one allotment is added"
    assert reset.account.used_this_period == 0
    # a second pass at the same instant changes nothing
    assert not apply_due_reset(reset.account, RESET).changed


charges_and_refunds = st.lists(
    st.tuples(st.sampled_from(["usage", "refund"]), st.integers(0, 9), st.integers(0, 40)), max_size=40
)


@settings(max_examples=200)
@given(moves=charges_and_refunds)
def test_the_period_use_is_what_the_ledger_adds_up_to_and_the_days_of_the_period_sum_to_it(
    moves: list[tuple[str, int, int]],
) -> None:
    """Charges and refunds (each of its thread's charge) across a reset of a UTC plan: the period use billing keeps
    is the credits used its ledger adds up to, whose days since the period's start add up to it too."""
    at = RESET - timedelta(days=4)
    account = open_account("acc", CreditPlan(monthly_allotment=50, credits_per_unit=3), at).account
    entries: list[tuple[LedgerEntry, datetime]] = []
    charged: dict[str, datetime] = {}
    for kind, thread, hours in moves:
        at += timedelta(hours=hours)
        reset = apply_due_reset(account, at)
        cause, recorded = f"thread:{thread}", {entry.key for entry, _ in entries}
        if kind == "usage":
            decision = record_usage(reset.account, cause, 3, recorded)
        elif cause in charged:
            decision = record_refund(reset.account, cause, 3, recorded, charged_at=charged[cause])
        else:
            decision = reset
        entries.extend((entry, at) for entry in (*reset.entries, *decision.entries))
        charged.update((entry.cause_id, at) for entry in decision.entries if entry.kind is EntryKind.USAGE)
        account = decision.account
    used = credits_used(entries, period_start=account.period_start, now=at)
    assert account.used_this_period == used.this_period
    period_days = [credits for day, credits in used.by_day.items() if day >= account.period_start.date()]
    assert sum(period_days) == used.this_period
    assert min(used.by_day.values()) >= 0
