"""Charges and refunds a transaction appends are added to the credits used in memory: what they add is what the
ledger, read whole, would count of them, a refund on its charge's day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

from billing_service.domain.ledger import (
    EntryKind,
    LedgerEntry,
    UsageMove,
    tally_usage,
    usage_moves,
    usage_since,
)
from hypothesis import given
from hypothesis import strategies as st

from .fakes import credits_used

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)
PERIOD_START = datetime(2026, 11, 1, tzinfo=UTC)


def test_a_charge_moves_its_credits_on_its_utc_day_a_refund_on_its_charges_and_a_purchase_nothing() -> None:
    copenhagen = timezone(timedelta(hours=1))
    at = datetime(2026, 11, 21, 0, 30, tzinfo=copenhagen)  # the 20th, UTC
    entries = [
        LedgerEntry(EntryKind.USAGE, "thread:a", -3),
        LedgerEntry(EntryKind.REFUND, "thread:b", 2, charged_at=PERIOD_START - timedelta(hours=1)),
        LedgerEntry(EntryKind.PURCHASE, "command:c", 50),
    ]

    moves = usage_moves(entries, at, since=usage_since(NOW, PERIOD_START), period_start=PERIOD_START)

    assert moves == [(date(2026, 11, 20), True, 3), (date(2026, 10, 31), False, -2)]


def test_a_charge_before_the_days_counted_moves_nothing_and_one_before_the_period_is_not_of_it() -> None:
    charge = [LedgerEntry(EntryKind.USAGE, "thread:a", -1)]
    since = usage_since(NOW, PERIOD_START)
    before_period = PERIOD_START - timedelta(days=1)
    refund = [LedgerEntry(EntryKind.REFUND, "thread:a", 1, charged_at=since - timedelta(microseconds=1))]

    assert usage_moves(charge, since - timedelta(microseconds=1), since=since, period_start=PERIOD_START) == []
    assert usage_moves(refund, NOW, since=since, period_start=PERIOD_START) == []
    assert usage_moves(charge, before_period, since=since, period_start=PERIOD_START) == [
        (before_period.date(), False, 1)
    ]


_entries = st.lists(
    st.tuples(
        st.sampled_from([EntryKind.USAGE, EntryKind.USAGE, EntryKind.REFUND, EntryKind.PURCHASE, EntryKind.RESET]),
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=0, max_value=60 * 24 * 50),  # minutes before NOW: from 50 days back
    ),
    max_size=40,
)


@given(_entries)
def test_charges_and_refunds_added_one_append_at_a_time_count_as_the_ledger_read_whole(
    appended: list[tuple[EntryKind, int, int]],
) -> None:
    """A refund takes back the latest charge not yet refunded, recorded no later (none left: no refund)."""
    since = usage_since(NOW, PERIOD_START)
    entries: list[tuple[LedgerEntry, datetime]] = []
    charges: list[tuple[LedgerEntry, datetime]] = []  # not refunded yet
    for n, (kind, credits, ago) in sorted(enumerate(appended), key=lambda item: -item[1][2]):  # oldest first
        at = NOW - timedelta(minutes=ago)
        if kind is EntryKind.REFUND:
            if charges:
                charge, charged_at = charges.pop()
                entries.append((LedgerEntry(kind, charge.cause_id, -charge.amount, charged_at=charged_at), at))
            continue
        entry = LedgerEntry(kind, f"cause-{n}", -credits if kind is EntryKind.USAGE else credits)
        entries.append((entry, at))
        if kind is EntryKind.USAGE:
            charges.append((entry, at))
    moves: list[UsageMove] = []
    for entry, at in entries:
        moves += usage_moves([entry], at, since=since, period_start=PERIOD_START)

    assert tally_usage(moves, NOW) == credits_used(entries, period_start=PERIOD_START, now=NOW)
