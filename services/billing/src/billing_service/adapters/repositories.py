"""Repositories over billing's accounts, ledger and applied commands; they use the unit of work's session and never
commit (the threads' is in ``thread_repository``)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from customer_agent_shared.events.billing import CreditPlan
from customer_agent_shared.persistence.retention import delete_before
from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import Integer, Row, String, all_, bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.orm import accounts_table, applied_commands_table, ledger_entries_table
from billing_service.domain.ledger import CreditAccount, EntryKey, EntryKind, LedgerEntry


@dataclass(frozen=True)
class RecordedEntry:
    """A ledger entry as stored, for history."""

    kind: str
    cause_id: str
    amount: int
    balance_after: int
    recorded_at: datetime
    note: str | None


@dataclass(frozen=True)
class AccountCounts:
    """How many accounts are exhausted and how many are past their reset date, counted together."""

    exhausted: int
    due_for_reset: int


def _account_values(account: CreditAccount) -> dict[str, object]:
    return {
        "plan": account.plan.model_dump(mode="json"),
        "balance": account.balance,
        "used_this_period": account.used_this_period,
        "purchased_this_period": account.purchased_this_period,
        "auto_upgrades_this_period": account.auto_upgrades_this_period,
        "period_start": account.period_start,
        "reset_at": account.reset_at,
        "exhausted": account.exhausted,
        "version": account.version,
        "usage_by_day": {day.isoformat(): used for day, used in account.usage_by_day.items()},
    }


def _account(row: Row[Any]) -> CreditAccount:
    return CreditAccount(
        account_id=row.account_id,
        plan=CreditPlan.model_validate(row.plan),
        balance=row.balance,
        used_this_period=row.used_this_period,
        purchased_this_period=row.purchased_this_period,
        auto_upgrades_this_period=row.auto_upgrades_this_period,
        period_start=row.period_start,
        reset_at=row.reset_at,
        exhausted=row.exhausted,
        version=row.version,
        usage_by_day={date.fromisoformat(day): used for day, used in row.usage_by_day.items()},
    )


_ACCOUNT_COLUMNS = (
    "plan",
    "balance",
    "used_this_period",
    "purchased_this_period",
    "auto_upgrades_this_period",
    "period_start",
    "reset_at",
    "exhausted",
    "version",
    "usage_by_day",
)
"""The keys of ``_account_values``."""

# The statements run for every conversation event (and every charge) are built once, with bindparam()
# placeholders, and executed with a parameters dict: a reused statement object keeps its cache key and
# compiled form, whereas building one per call costs SQLAlchemy a new construction and cache key every time.
# WHERE parameters are prefixed where a parameter named like a column would also be SET by SQLAlchemy.

_ACCOUNT_IDS = ARRAY(String)

_LOCK_ACCOUNT = select(accounts_table).where(accounts_table.c.account_id == bindparam("b_account_id")).with_for_update()

_SAVE_ACCOUNT = (
    update(accounts_table)
    .where(accounts_table.c.account_id == bindparam("b_account_id"))
    .values({**{name: bindparam(name) for name in _ACCOUNT_COLUMNS}, "updated_at": func.now()})
)

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


class AccountRepository(TransactionScopedRepository):
    """The cached state row of each account; writers lock it first to serialize changes.

    An account locked in a transaction is kept until it ends, and its writes wait for a batch's commit: in
    a batch, its accounts are locked once (``lock_many``) and written once; the state kept here is then
    the only up-to-date copy, so ``lock`` answers from it.
    """

    async def lock(self, account_id: str) -> CreditAccount | None:
        """Load the account with ``SELECT ... FOR UPDATE`` (None if it does not exist yet)."""
        kept = self._kept.get(account_id)
        if isinstance(kept, CreditAccount):
            return kept
        row = kept if isinstance(kept, Row) else None
        if row is None:
            row = (await self._session.execute(_LOCK_ACCOUNT, {"b_account_id": account_id})).first()
        if row is None:
            return None
        return self._keep(_account(row))

    async def lock_many(self, account_ids: Collection[str]) -> None:
        """Lock the existing accounts among ``account_ids`` in one statement, in id order (no lock cycles)."""
        wanted = sorted(set(account_ids) - self._kept.keys())
        if wanted:
            rows = await self._session.execute(
                select(accounts_table)
                .where(accounts_table.c.account_id.in_(wanted))
                .order_by(accounts_table.c.account_id)
                .with_for_update()
            )
            for row in rows:
                self._keep(_account(row))

    def _keep(self, account: CreditAccount) -> CreditAccount:
        self._kept[account.account_id] = account
        return account

    async def insert_if_absent(self, account: CreditAccount) -> bool:
        """Create the account row; False if another writer created it first."""
        result = await self._session.execute(
            insert(accounts_table)
            .values(account_id=account.account_id, **_account_values(account))
            .on_conflict_do_nothing(index_elements=["account_id"])
            .returning(accounts_table.c.account_id)
        )
        return result.first() is not None

    async def save(self, account: CreditAccount) -> None:
        """Write the cached state of a locked account (in a batch: at its commit)."""
        self._keep(account)
        parameters = {"b_account_id": account.account_id, **_account_values(account)}
        await self._write(_SAVE_ACCOUNT, account.account_id, parameters)

    async def lock_due_for_reset(self, now: datetime, limit: int, *, skip: Collection[str] = ()) -> list[str]:
        """Lock up to ``limit`` accounts whose reset date has passed, the longest due first, other than ``skip``
        and those another transaction holds (a replica resetting them, a charge); ``lock`` then answers for them,
        reading the plan of each (a plan that does not validate fails that account alone, not the batch)."""
        due = select(accounts_table).where(accounts_table.c.reset_at <= now)
        if skip:  # one array parameter, however many are skipped
            due = due.where(accounts_table.c.account_id != all_(bindparam("b_skip", list(skip), type_=_ACCOUNT_IDS)))
        statement = due.order_by(accounts_table.c.reset_at).limit(limit).with_for_update(skip_locked=True)
        rows = (await self._session.execute(statement)).all()
        self._kept.update((row.account_id, row) for row in rows)
        return [row.account_id for row in rows]

    async def count(self, now: datetime) -> AccountCounts:
        """How many accounts are exhausted now and how many reset dates have passed, in one scan."""
        counts = (
            await self._session.execute(
                select(
                    func.count().filter(accounts_table.c.exhausted),
                    func.count().filter(accounts_table.c.reset_at <= now),
                ).select_from(accounts_table)
            )
        ).one()
        return AccountCounts(exhausted=int(counts[0] or 0), due_for_reset=int(counts[1] or 0))


class LedgerRepository:
    """The append-only entries; unique on (account, cause, kind)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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

    async def amount(self, account_id: str, key: EntryKey) -> int | None:
        """The amount of the account's entry with that (kind, cause), or None when there is none."""
        kind, cause = key
        return await self._session.scalar(
            select(ledger_entries_table.c.amount).where(
                ledger_entries_table.c.account_id == account_id,
                ledger_entries_table.c.kind == kind.value,
                ledger_entries_table.c.cause_id == cause,
            )
        )

    async def append(self, account_id: str, entries: Sequence[LedgerEntry], balance_before: int, at: datetime) -> None:
        """Append entries in order, each with the balance after it."""
        balance = balance_before
        for entry in entries:
            balance += entry.amount
            await self._session.execute(
                _APPEND_ENTRY,
                {
                    "account_id": account_id,
                    "kind": entry.kind.value,
                    "cause_id": entry.cause_id,
                    "amount": entry.amount,
                    "balance_after": balance,
                    "note": entry.note[:500] if entry.note else None,
                    "recorded_at": at,
                },
            )

    async def recent(self, account_id: str, limit: int) -> list[RecordedEntry]:
        """The account's latest entries, newest first."""
        rows = await self._session.execute(_RECENT_ENTRIES, {"b_account_id": account_id, "b_limit": limit})
        return [
            RecordedEntry(
                kind=row.kind,
                cause_id=row.cause_id,
                amount=row.amount,
                balance_after=row.balance_after,
                recorded_at=row.recorded_at,
                note=row.note,
            )
            for row in rows
        ]


class CommandRepository:
    """Ids of billing commands already applied (a replayed command does nothing)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def claim(self, account_id: str, command_id: str, *, command_type: str) -> bool:
        """Record the command as applied; False if it already was."""
        result = await self._session.execute(
            insert(applied_commands_table)
            .values(account_id=account_id, command_id=command_id, command_type=command_type)
            .on_conflict_do_nothing(index_elements=["account_id", "command_id"])
            .returning(applied_commands_table.c.command_id)
        )
        return result.first() is not None

    async def forget_before(self, before: datetime, limit: int) -> int:
        """Delete up to ``limit`` command ids applied before ``before``; return how many."""
        table = applied_commands_table
        return await delete_before(self._session, table, time_column=table.c.applied_at, before=before, limit=limit)
