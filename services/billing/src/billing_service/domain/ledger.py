"""The credit ledger's rules, pure: entries, balance, exhaustion crossings, resets, auto-upgrade packs.

Every change is an append-only ``LedgerEntry`` keyed by (kind, cause): a change whose key
is already recorded is a no-op, so a redelivered or replayed event never charges twice.
The balance is the sum of the entries; ``CreditAccount`` caches it with the period counters and the
credits used on each recent day.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
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
USAGE_KINDS = frozenset({EntryKind.USAGE, EntryKind.REFUND})
"""The entries that make up the credits used: charges, and refunds taking a charge back."""


@dataclass(frozen=True)
class LedgerEntry:
    """One signed movement of credits, unique on (kind, cause_id) within an account."""

    kind: EntryKind
    cause_id: str
    amount: int
    note: str | None = None

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
    usage_by_day: Mapping[date, int] = field(default_factory=dict)  # net credits used per UTC day, USAGE_DAYS


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


def count_usage(decision: Decision, at: datetime) -> Decision:
    """The decision with its charges and refunds added to the UTC day of ``at`` (when they are recorded), the
    days older than ``USAGE_DAYS`` dropped. A day keeps its figure when it nets to zero: it tells a reader that
    saw the charge that a refund took it back."""
    today = at.astimezone(UTC).date()
    oldest = today - timedelta(days=USAGE_DAYS - 1)
    days = {day: used for day, used in decision.account.usage_by_day.items() if day >= oldest}
    usage = [entry for entry in decision.entries if entry.kind in USAGE_KINDS]
    if usage:
        days[today] = days.get(today, 0) - sum(entry.amount for entry in usage)
    return replace(decision, account=replace(decision.account, usage_by_day=days))


def _unchanged(account: CreditAccount, cause: str) -> Decision:
    return Decision(account=account, entries=(), transition=None, cause=cause, changed=False)


def _append(account: CreditAccount, entry: LedgerEntry) -> CreditAccount:
    account = replace(account, balance=account.balance + entry.amount)
    if entry.kind is EntryKind.USAGE:
        return replace(account, used_this_period=account.used_this_period - entry.amount)
    if entry.kind is EntryKind.REFUND:
        return replace(account, used_this_period=max(0, account.used_this_period - entry.amount))
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


def record_refund(account: CreditAccount, cause_id: str, credits: int, recorded: Container[EntryKey]) -> Decision:
    """Give back the ``credits`` a usage of ``cause_id`` took, once (a charge that should not have been)."""
    if credits <= 0:
        raise ValueError("a refund must give credits back")
    entry = LedgerEntry(EntryKind.REFUND, cause_id, credits)
    if entry.key in recorded:
        return _unchanged(account, "refund")
    return _settle(account, _append(account, entry), [entry], "refund")


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
