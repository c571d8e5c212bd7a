"""Charges a transaction appends are added to the credits used in memory: what they add is what the ledger, read
whole, would count of them; refunds are left to a reading of the ledger."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from billing_service.domain.ledger import (
    EntryKind,
    LedgerEntry,
    UsageMove,
    charge_moves,
    credits_used,
    tally_usage,
    usage_since,
)
from hypothesis import given
from hypothesis import strategies as st

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
PERIOD_START = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_charge_moves_its_credits_on_its_utc_day_in_its_period_and_a_refund_or_purchase_nothing() -> None:
    copenhagen = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 21, 0, 30, tzinfo=copenhagen)  # the 20th, UTC
    entries = [
        LedgerEntry(EntryKind.USAGE, "thread:a", -3),
        LedgerEntry(EntryKind.REFUND, "thread:b", 2),
        LedgerEntry(EntryKind.PURCHASE, "command:c", 50),
    ]

    moves = charge_moves(entries, at, since=usage_since(NOW, PERIOD_START), period_start=PERIOD_START)

    assert moves == [(date(2026, 11, 20), True, 3)]


def test_a_charge_before_the_days_counted_moves_nothing_and_one_before_the_period_is_not_of_it() -> None:
    charge = [LedgerEntry(EntryKind.USAGE, "thread:a", -1)]
    since = usage_since(NOW, PERIOD_START)
    before_period = PERIOD_START - timedelta(days=1)

    assert charge_moves(charge, since - timedelta(microseconds=1), since=since, period_start=PERIOD_START) == []
    assert charge_moves(charge, before_period, since=since, period_start=PERIOD_START) == [
        (before_period.date(), False, 1)
    ]


_entries = st.lists(
    st.tuples(
        st.sampled_from([EntryKind.USAGE, EntryKind.USAGE, EntryKind.PURCHASE, EntryKind.RESET]),
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=0, max_value=60 * 24 * 50),  # minutes before NOW: from 50 days back
    ),
    max_size=40,
)


@given(_entries)
def test_charges_added_one_append_at_a_time_count_as_the_ledger_read_whole(
    appended: list[tuple[EntryKind, int, int]],
) -> None:
    since = usage_since(NOW, PERIOD_START)
    signed = {EntryKind.USAGE: -1, EntryKind.PURCHASE: 1, EntryKind.RESET: 1}
    entries = [
        (LedgerEntry(kind, f"cause-{n}", signed[kind] * credits), NOW - timedelta(minutes=ago))
        for n, (kind, credits, ago) in enumerate(appended)
    ]
    moves: list[UsageMove] = []
    for entry, at in entries:
        moves += charge_moves([entry], at, since=since, period_start=PERIOD_START)

    assert tally_usage(moves, NOW) == credits_used(entries, period_start=PERIOD_START, now=NOW)
