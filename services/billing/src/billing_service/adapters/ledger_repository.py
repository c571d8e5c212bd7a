"""The append-only ledger of every account, and the credits used it adds up to; the repository never commits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import (
    Date,
    DateTime,
    Integer,
    Row,
    Select,
    String,
    and_,
    bindparam,
    cast,
    func,
    literal_column,
    select,
    tuple_,
    union_all,
)

from billing_service.adapters.orm import ledger_entries_table
from billing_service.domain.ledger import (
    CreditsUsed,
    EntryKey,
    EntryKind,
    LedgerEntry,
    tally_usage,
    usage_moves,
    usage_since,
)


@dataclass(frozen=True)
class RecordedEntry:
    """A ledger entry as stored, for history."""

    kind: str
    cause_id: str
    amount: int
    balance_after: int
    recorded_at: datetime
    note: str | None


_APPEND_ENTRY = ledger_entries_table.insert().values(
    account_id=bindparam("account_id"),
    kind=bindparam("kind"),
    cause_id=bindparam("cause_id"),
    amount=bindparam("amount"),
    balance_after=bindparam("balance_after"),
    note=bindparam("note"),
    recorded_at=bindparam("recorded_at"),
)

_RECENT_ENTRIES = (
    select(ledger_entries_table)
    .where(ledger_entries_table.c.account_id == bindparam("b_account_id"))
    .order_by(ledger_entries_table.c.id.desc())
    .limit(bindparam("b_limit", type_=Integer))
)


def _credits_used_statement() -> Select[date, bool, Any]:
    """Per UTC day of the charge and whether it is of the period, the credits the account's charges recorded since
    ``b_since`` used, less their refunds (see ``domain.ledger``): the charges read from
    ``ix_ledger_entries_account_kind_time`` alone, the refunds from it, each with its charge by
    ``uq_ledger_entries_cause``."""
    since = bindparam("b_since", type_=DateTime(timezone=True))
    account = bindparam("b_account_id", type_=String)
    entries, charge, refund = (
        ledger_entries_table,
        ledger_entries_table.alias("charge"),
        ledger_entries_table.alias("refund"),
    )

    charged = [entries.c.account_id == account, entries.c.kind == EntryKind.USAGE.value, entries.c.recorded_at >= since]
    refunded = [
        refund.c.account_id == account,
        refund.c.kind == EntryKind.REFUND.value,
        refund.c.recorded_at >= since,  # no earlier than its charge: this bound only narrows the scan
        charge.c.recorded_at >= since,
    ]
    charges = select(entries.c.recorded_at.label("charged_at"), entries.c.amount).where(*charged)
    refunds = (
        select(charge.c.recorded_at.label("charged_at"), refund.c.amount)
        .join_from(
            refund,
            charge,
            and_(
                charge.c.account_id == refund.c.account_id,
                charge.c.cause_id == refund.c.cause_id,
                charge.c.kind == EntryKind.USAGE.value,
            ),
        )
        .where(*refunded)
    )
    moves = union_all(charges, refunds).subquery("moves")
    return select(
        cast(func.timezone("UTC", moves.c.charged_at), Date).label("day"),
        (moves.c.charged_at >= bindparam("b_period_start", type_=DateTime(timezone=True))).label("in_period"),
        (-func.sum(moves.c.amount)).label("credits"),
    ).group_by(literal_column("1"), literal_column("2"))


_CREDITS_USED = _credits_used_statement()


@dataclass(frozen=True)
class _Counted:
    """An account's credits used as last counted in this transaction: read whole, plus the entries appended since."""

    since: datetime
    period_start: datetime
    moves: Mapping[tuple[date, bool], int]  # credits by (the charge's UTC day, of the period)

    def appending(self, entries: Sequence[LedgerEntry], at: datetime) -> _Counted:
        """This count with ``entries`` appended at ``at``: their charges and refunds added."""
        moves = dict(self.moves)
        for day, in_period, credits in usage_moves(entries, at, since=self.since, period_start=self.period_start):
            moves[(day, in_period)] = moves.get((day, in_period), 0) + credits
        return replace(self, moves=moves)


class LedgerRepository(TransactionScopedRepository):
    """The append-only entries; unique on (account, cause, kind).

    The credits used are read from the ledger whole once per account and transaction (and again when the period or
    the days reported move on); the charges and refunds appended after are added in memory (a refund on its charge's
    day, which its entry carries), as the account's row lock keeps any other writer out, so a batch charging or
    refunding the account again reads nothing more. Kept values are replaced, never changed in place, so a
    rolled-back savepoint gets them back as they were.
    """

    async def recorded(self, account_id: str, keys: Sequence[EntryKey]) -> set[EntryKey]:
        """Which of ``keys`` the account's ledger already holds."""
        if not keys:
            return set()
        rows = await self._session.execute(
            select(ledger_entries_table.c.kind, ledger_entries_table.c.cause_id).where(
                ledger_entries_table.c.account_id == account_id,
                tuple_(ledger_entries_table.c.kind, ledger_entries_table.c.cause_id).in_(
                    [(kind.value, cause) for kind, cause in keys]
                ),
            )
        )
        return {(EntryKind(row.kind), row.cause_id) for row in rows}

    async def find(self, account_id: str, key: EntryKey) -> RecordedEntry | None:
        """The account's entry with that (kind, cause), or None when there is none."""
        kind, cause = key
        table = ledger_entries_table
        statement = select(table).where(
            table.c.account_id == account_id, table.c.kind == kind.value, table.c.cause_id == cause
        )
        row = (await self._session.execute(statement)).first()
        return None if row is None else _recorded(row)

    async def append(self, account_id: str, entries: Sequence[LedgerEntry], balance_before: int, at: datetime) -> None:
        """Append entries in order, each with the balance after it."""
        balance = balance_before
        for entry in entries:
            balance += entry.amount
            parameters = {
                "account_id": account_id,
                "kind": entry.kind.value,
                "cause_id": entry.cause_id,
                "amount": entry.amount,
                "balance_after": balance,
                "note": entry.note[:500] if entry.note else None,
                "recorded_at": at,
            }
            await self._session.execute(_APPEND_ENTRY, parameters)
        counted = self._kept.get(account_id)
        if isinstance(counted, _Counted):
            self._kept[account_id] = counted.appending(entries, at)

    async def credits_used(self, account_id: str, *, period_start: datetime, now: datetime) -> CreditsUsed:
        """The credits the account used, as its ledger holds them now (see ``domain.ledger``)."""
        since = usage_since(now, period_start)
        parameters: dict[str, Any] = {"b_account_id": account_id, "b_since": since, "b_period_start": period_start}
        counted = self._kept.get(account_id)
        if not isinstance(counted, _Counted) or (counted.since, counted.period_start) != (since, period_start):
            rows = await self._session.execute(_CREDITS_USED, parameters)
            moves = {(row.day, row.in_period): int(row.credits) for row in rows}
            counted = self._kept[account_id] = _Counted(since=since, period_start=period_start, moves=moves)
        return tally_usage(((day, in_period, credits) for (day, in_period), credits in counted.moves.items()), now)

    async def recent(self, account_id: str, limit: int) -> list[RecordedEntry]:
        """The account's latest entries, newest first."""
        rows = await self._session.execute(_RECENT_ENTRIES, {"b_account_id": account_id, "b_limit": limit})
        return [_recorded(row) for row in rows]


def _recorded(row: Row[Any]) -> RecordedEntry:
    return RecordedEntry(
        kind=row.kind,
        cause_id=row.cause_id,
        amount=row.amount,
        balance_after=row.balance_after,
        recorded_at=row.recorded_at,
        note=row.note,
    )
