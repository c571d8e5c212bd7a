"""Repositories over billing's accounts and applied commands; they use the unit of work's session and never commit
(the ledger's and the threads' are in ``ledger_repository`` and ``thread_repository``)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from customer_agent_shared.events.billing import CreditPlan
from customer_agent_shared.persistence.retention import delete_before
from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import Row, String, all_, bindparam, func, select, update
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.orm import accounts_table, applied_commands_table
from billing_service.domain.ledger import CreditAccount


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
