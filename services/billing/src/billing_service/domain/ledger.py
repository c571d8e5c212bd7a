"""The credit ledger's rules, pure: entries, balance, exhaustion crossings, resets, auto-upgrade packs.

Every change is an append-only ``LedgerEntry`` keyed by (kind, cause): a change whose key
is already recorded is a no-op, so a redelivered or replayed event never charges twice.
The balance is the sum of the entries; ``CreditAccount`` caches it with the period counters.

The credits used are the usage charged less what refunds took back, a refund counting with
the charge it takes back (its cause is the charge's): on the UTC day billing recorded that charge and in the
period containing that moment. A refund of an earlier period's charge gives the credits back to the balance but
lowers that period's use, never the current one's, so no period's use goes below zero.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from customer_agent_shared.events.billing import USAGE_DAYS, CreditPlan, CreditPlanChange

from billing_service.domain.periods import period_containing


class EntryKind(StrEnum):
    """Why the balance moved."""

    ALLOTMENT = "allotment"
    RESET = "reset"
    PURCHASE = "purchase"
    AUTO_UPGRADE = "auto_upgrade"
    USAGE = "usage"
    REFUND = "refund"
    ADJUSTMENT = "adjustment"


EntryKey = tuple[EntryKind, str]


@dataclass(frozen=True)
class LedgerEntry:
    """One signed movement of credits, unique on (kind, cause_id) within an account."""

    kind: EntryKind
    cause_id: str
    amount: int
    note: str | None = None
    charged_at: datetime | None = None  # a refund's only: when the charge it takes back was recorded (not stored)

    @property
    def key(self) -> EntryKey:
        """The idempotency key of this entry."""
        return (self.kind, self.cause_id)


class Transition(StrEnum):
    """A crossing of the exhaustion threshold."""

    EXHAUSTED = "exhausted"
    RESTORED = "restored"


@dataclass(frozen=True)
class CreditAccount:
    """An account's cached ledger state: the balance and the counters of the current period."""

    account_id: str
    plan: CreditPlan
    balance: int
    used_this_period: int
    purchased_this_period: int
    auto_upgrades_this_period: int
    period_start: datetime
    reset_at: datetime
    exhausted: bool
    version: int


@dataclass(frozen=True)
class Decision:
    """The outcome of one ledger operation: the new state, the entries to append, any crossing."""

    account: CreditAccount
    entries: tuple[LedgerEntry, ...]
    transition: Transition | None
    cause: str
    changed: bool


def balance_of(entries: Iterable[LedgerEntry]) -> int:
    """The balance the entries add up to."""
    return sum(entry.amount for entry in entries)


def is_exhausted(balance: int) -> bool:
    """True when the agent must stop taking new threads."""
    return balance <= 0


def crossing(was_exhausted: bool, balance: int) -> Transition | None:
    """The threshold crossing, if any, from the previous flag to the new balance."""
    now_exhausted = is_exhausted(balance)
    if now_exhausted and not was_exhausted:
        return Transition.EXHAUSTED
    if was_exhausted and not now_exhausted:
        return Transition.RESTORED
    return None


def period_cause(period_start: datetime) -> str:
    """The cause id of the allotment or reset that opens the period starting at ``period_start``."""
    return f"period:{period_start.astimezone(UTC).isoformat()}"


@dataclass(frozen=True)
class CreditsUsed:
    """The credits an account used, as its ledger holds them (see the module)."""

    this_period: int  # charged since the period's start
    by_day: Mapping[date, int]  # on each UTC day of the last USAGE_DAYS (``usage_days``), 0 when nothing


UsageMove = tuple[date, bool, int]
"""Credits a charge or a refund moved, by the charge: (its UTC day, whether it is of the current period, credits
used, negative for a refund)."""


def usage_days(now: datetime) -> list[date]:
    """The UTC days a credit state reports the credits used of, oldest first: the last USAGE_DAYS, today's included."""
    today = now.astimezone(UTC).date()
    return [today - timedelta(days=back) for back in range(USAGE_DAYS - 1, -1, -1)]


def usage_since(now: datetime, period_start: datetime) -> datetime:
    """The earliest charge the credits used count: the first of the days reported or the period's start."""
    return min(datetime.combine(usage_days(now)[0], time(), UTC), period_start)


def tally_usage(moves: Iterable[UsageMove], now: datetime) -> CreditsUsed:
    """Add up the credits moved (``UsageMove``) by day and for the period; a day not reported is left out."""
    by_day = dict.fromkeys(usage_days(now), 0)
    this_period = 0
    for day, in_period, credits in moves:
        if day in by_day:
            by_day[day] += credits
        if in_period:
            this_period += credits
    # Never below zero, as a state's contract has it, even were a hand-edited refund to exceed its charge.
    return CreditsUsed(this_period=max(this_period, 0), by_day=by_day)


def usage_moves(
    entries: Iterable[LedgerEntry], recorded_at: datetime, *, since: datetime, period_start: datetime
) -> list[UsageMove]:
    """The moves of the charges and refunds among ``entries`` recorded at ``recorded_at``, as the credits used count
    those of the charges recorded since ``since``: a charge's at ``recorded_at``, a refund's at its ``charged_at``."""
    moves = []
    for entry in entries:
        charged_at = recorded_at if entry.kind is EntryKind.USAGE else entry.charged_at  # None: no usage moved
        if charged_at is not None and charged_at >= since:
            moves.append((charged_at.astimezone(UTC).date(), charged_at >= period_start, -entry.amount))
    return moves


def _unchanged(account: CreditAccount, cause: str) -> Decision:
    return Decision(account=account, entries=(), transition=None, cause=cause, changed=False)


def _append(account: CreditAccount, entry: LedgerEntry) -> CreditAccount:
    account = replace(account, balance=account.balance + entry.amount)
    if entry.kind is EntryKind.USAGE:
        return replace(account, used_this_period=account.used_this_period - entry.amount)
    if entry.kind is EntryKind.PURCHASE:
        return replace(account, purchased_this_period=account.purchased_this_period + entry.amount)
    if entry.kind is EntryKind.AUTO_UPGRADE:
        return replace(account, auto_upgrades_this_period=account.auto_upgrades_this_period + 1)
    return account


def _settle(before: CreditAccount, after: CreditAccount, entries: list[LedgerEntry], cause: str) -> Decision:
    """Buy auto-upgrade packs while exhausted and allowed, then detect the crossing and bump the version."""
    plan = after.plan
    while (
        is_exhausted(after.balance)
        and plan.auto_upgrade_pack_credits > 0
        and after.auto_upgrades_this_period < plan.auto_upgrade_limit
    ):
        pack = LedgerEntry(
            EntryKind.AUTO_UPGRADE,
            f"auto:{period_cause(after.period_start)}:{after.auto_upgrades_this_period + 1}",
            plan.auto_upgrade_pack_credits,
        )
        entries.append(pack)
        after = _append(after, pack)
    transition = crossing(before.exhausted, after.balance)
    after = replace(after, exhausted=is_exhausted(after.balance), version=before.version + 1)
    return Decision(account=after, entries=tuple(entries), transition=transition, cause=cause, changed=True)


def open_account(account_id: str, plan: CreditPlan, now: datetime) -> Decision:
    """A new account: the plan's allotment for the period containing ``now``."""
    period = period_containing(now, plan.reset_day, plan.timezone)
    empty = CreditAccount(
        account_id=account_id,
        plan=plan,
        balance=0,
        used_this_period=0,
        purchased_this_period=0,
        auto_upgrades_this_period=0,
        period_start=period.start,
        reset_at=period.end,
        exhausted=False,
        version=0,
    )
    grant = LedgerEntry(EntryKind.ALLOTMENT, period_cause(period.start), plan.monthly_allotment)
    return _settle(empty, _append(empty, grant), [grant], "opened")


def record_usage(account: CreditAccount, cause_id: str, credits: int, recorded: Container[EntryKey]) -> Decision:
    """Charge ``credits`` once for ``cause_id`` (a conversation or resolution)."""
    if credits <= 0:
        raise ValueError("usage must be positive")
    entry = LedgerEntry(EntryKind.USAGE, cause_id, -credits)
    if entry.key in recorded:
        return _unchanged(account, "usage")
    return _settle(account, _append(account, entry), [entry], "usage")


def record_refund(
    account: CreditAccount, cause_id: str, credits: int, recorded: Container[EntryKey], *, charged_at: datetime
) -> Decision:
    """Give back the ``credits`` a usage of ``cause_id`` recorded at ``charged_at`` took, once (a charge that should
    not have been); only a charge of the current period is taken off its use."""
    if credits <= 0:
        raise ValueError("a refund must give credits back")
    entry = LedgerEntry(EntryKind.REFUND, cause_id, credits, charged_at=charged_at)
    if entry.key in recorded:
        return _unchanged(account, "refund")
    after = _append(account, entry)
    if charged_at >= account.period_start:
        after = replace(after, used_this_period=after.used_this_period - credits)
    return _settle(account, after, [entry], "refund")


def record_purchase(account: CreditAccount, cause_id: str, credits: int, recorded: Container[EntryKey]) -> Decision:
    """Add a purchased pack of ``credits`` once for ``cause_id`` (the command)."""
    if credits <= 0:
        raise ValueError("a purchase must add credits")
    entry = LedgerEntry(EntryKind.PURCHASE, cause_id, credits)
    if entry.key in recorded:
        return _unchanged(account, "purchase")
    return _settle(account, _append(account, entry), [entry], "purchase")


def record_adjustment(
    account: CreditAccount, cause_id: str, credits: int, recorded: Container[EntryKey], note: str | None = None
) -> Decision:
    """Add (or with a negative ``credits`` remove) credits once for ``cause_id``."""
    entry = LedgerEntry(EntryKind.ADJUSTMENT, cause_id, credits, note)
    if credits == 0 or entry.key in recorded:
        return _unchanged(account, "adjustment")
    return _settle(account, _append(account, entry), [entry], "adjustment")


def change_plan(
    account: CreditAccount, plan: CreditPlan, cause_id: str, now: datetime, recorded: Container[EntryKey]
) -> Decision:
    """Switch plans mid-period: grant (or take back) the allotment difference and move the reset date."""
    delta = LedgerEntry(EntryKind.ALLOTMENT, cause_id, plan.monthly_allotment - account.plan.monthly_allotment)
    if delta.key in recorded:
        return _unchanged(account, "plan")
    period = period_containing(now, plan.reset_day, plan.timezone)
    after = replace(account, plan=plan, period_start=period.start, reset_at=period.end)
    return _settle(account, _append(after, delta), [delta], "plan")


def merged_plan(current: CreditPlan, change: CreditPlanChange) -> CreditPlan:
    """The current plan with the fields the change sets; the fields it leaves out keep their values."""
    return CreditPlan.model_validate({**current.model_dump(), **change.model_dump(exclude_none=True)})


def apply_due_reset(account: CreditAccount, now: datetime) -> Decision:
    """At the reset date the unused allotment expires and a new one is granted; bought credits stay.

    The allotment is spent before bought credits, so what expires is the allotment left over,
    never more than the positive balance. Missed periods collapse into one reset.
    """
    if now < account.reset_at:
        return _unchanged(account, "reset")
    plan = account.plan
    period = period_containing(now, plan.reset_day, plan.timezone)
    allotment_left = max(plan.monthly_allotment - account.used_this_period, 0)
    expiring = min(allotment_left, max(account.balance, 0))
    entry = LedgerEntry(EntryKind.RESET, period_cause(period.start), plan.monthly_allotment - expiring)
    fresh = replace(
        account,
        used_this_period=0,
        purchased_this_period=0,
        auto_upgrades_this_period=0,
        period_start=period.start,
        reset_at=period.end,
    )
    return _settle(account, _append(fresh, entry), [entry], "reset")
