"""Repositories of what routing knows of each account: its folded configuration, credit state and people's loads."""

from __future__ import annotations

from collections.abc import Collection, Hashable
from datetime import datetime
from typing import Any

from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.channels import AssigneeKind
from customer_agent_shared.events.config import AgentConfigSnapshot
from sqlalchemy import Text, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, insert
from sqlalchemy.ext.asyncio import AsyncSession

from routing_service.adapters.orm import account_config_table, assignee_load_table, credit_state_table
from routing_service.domain.handoff import LoadKey

_CHANGE_LOAD = (
    insert(assignee_load_table)
    .values(
        account_id=bindparam("account_id"),
        assignee_kind=bindparam("assignee_kind"),
        assignee_id=bindparam("assignee_id"),
        open_threads=bindparam("open_threads"),
    )
    .on_conflict_do_update(
        index_elements=["account_id", "assignee_kind", "assignee_id"],
        set_={
            "open_threads": func.greatest(
                0,
                assignee_load_table.c.open_threads + bindparam("delta", type_=assignee_load_table.c.open_threads.type),
            )
        },
    )
)

# One-bigint advisory locks: apart from the inbox's two-int claim locks; a collision with another lock only
# makes one wait for the other's transaction. Several are waited for in the order of their keys (PostgreSQL
# computes a select list after its ORDER BY), so two transactions waiting for some of the same never each wait
# for the other.
_LOCK_NAMES = func.unnest(bindparam("names", type_=ARRAY(Text))).table_valued("name").render_derived()
_LOCK_KEYS = select(func.hashtextextended(_LOCK_NAMES.c.name, 0).label("key")).distinct().subquery("lock_keys")
_HOLD_ASSIGNMENTS = select(func.pg_advisory_xact_lock(_LOCK_KEYS.c.key)).order_by(_LOCK_KEYS.c.key)
_TRY_HOLD_ASSIGNMENTS = select(func.pg_try_advisory_xact_lock(func.hashtextextended(bindparam("name", type_=Text), 0)))
_TRY_HOLD_MANY = select(
    _LOCK_NAMES.c.name, func.pg_try_advisory_xact_lock(func.hashtextextended(_LOCK_NAMES.c.name, 0)).label("taken")
)
_HELD = "held"


def _lock_name(account_id: str) -> str:
    return f"routing.assignments:{account_id}"


class LoadRepository:
    """Open threads per user and team of an account."""

    def __init__(self, session: AsyncSession, *, kept: dict[Hashable, Any] | None = None) -> None:
        self._session = session
        self._kept: dict[Hashable, Any] = {} if kept is None else kept
        """Lives as long as the transaction (``transaction_cache``): which accounts' assignments it holds."""

    async def hold_assignments(self, account_ids: Collection[str]) -> bool:
        """Keep every other transaction from assigning in these accounts until this one ends; False when one
        is taken by another transaction now and this one may not wait for it.

        Loads are read, compared with capacities and counted up in separate statements: without this, two
        transactions could both see the last place free and both take it. The transaction's first call waits
        for those another transaction holds (``_wait_for``): it must come before the transaction locks any
        row, so that no row another transaction waits for is held while it waits. A later call waits for
        nothing: it takes an account only if it is free at once.
        """
        held: set[str] | None = self._kept.get(_HELD)
        if held is None:
            await self._wait_for(sorted({_lock_name(account_id) for account_id in account_ids}))
            self._kept[_HELD] = set(account_ids)
            return True
        for account_id in sorted(set(account_ids) - held):
            if not await self._session.scalar(_TRY_HOLD_ASSIGNMENTS, {"name": _lock_name(account_id)}):
                return False
            held.add(account_id)
        return True

    def first_hold_made(self) -> bool:
        """Whether this transaction made its first ``hold_assignments`` call (the one that may wait)."""
        return _HELD in self._kept

    async def _wait_for(self, names: list[str]) -> None:
        """Take these locks, waiting for those other transactions hold.

        It never waits for one while holding one of a higher key: two transactions taking some of the same
        could then each wait for the other. Several it first tries all at once; if some are taken, it releases
        the others, waits for those, then takes the others if they are still free: an account taken elsewhere
        keeps none of its others from being assigned meanwhile. Only if one of them was taken in between does
        it release all and wait for all in key order (holding the lower ones while it waits).
        """
        if len(names) > 1:
            busy = await self._take_all_or_none(names, waiting_for=[])
            if not busy or not await self._take_all_or_none(names, waiting_for=busy):
                return
        if names:
            await self._session.execute(_HOLD_ASSIGNMENTS, {"names": names})

    async def _take_all_or_none(self, names: list[str], *, waiting_for: list[str]) -> list[str]:
        """Wait for ``waiting_for`` (in key order), then take the other ``names`` that are free now; keep them all
        and return none, or release them all (a savepoint rolled back) and return those that were not free."""
        savepoint = await self._session.begin_nested()
        if waiting_for:
            await self._session.execute(_HOLD_ASSIGNMENTS, {"names": waiting_for})
        others = [name for name in names if name not in waiting_for]
        busy = [row.name for row in await self._session.execute(_TRY_HOLD_MANY, {"names": others}) if not row.taken]
        if busy:
            await savepoint.rollback()
        else:
            await savepoint.commit()
        return busy

    async def loads(self, account_id: str) -> dict[LoadKey, int]:
        """Current load of every user and team that has one."""
        rows = (
            await self._session.execute(
                select(
                    assignee_load_table.c.assignee_kind,
                    assignee_load_table.c.assignee_id,
                    assignee_load_table.c.open_threads,
                ).where(assignee_load_table.c.account_id == account_id)
            )
        ).all()
        return {(AssigneeKind(row.assignee_kind), row.assignee_id): row.open_threads for row in rows}

    async def change(self, account_id: str, holder: LoadKey, delta: int) -> None:
        """Add ``delta`` open threads to a user or team (never below zero)."""
        kind, assignee_id = holder
        await self._session.execute(
            _CHANGE_LOAD,
            {
                "account_id": account_id,
                "assignee_kind": kind.value,
                "assignee_id": assignee_id,
                "open_threads": max(0, delta),
                "delta": delta,
            },
        )


class AccountRepository:
    """The folded agent configuration and credit state of each account."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def save_config(self, snapshot: AgentConfigSnapshot) -> bool:
        """Store the snapshot unless a newer or equal version is stored; True when stored."""
        table = account_config_table
        values = {
            "account_id": snapshot.account_id,
            "version": snapshot.version,
            "snapshot": snapshot.model_dump(mode="json"),
            "updated_at": snapshot.updated_at,
        }
        statement = (
            insert(table)
            .values(**values)
            .on_conflict_do_update(
                index_elements=["account_id"],
                set_={key: value for key, value in values.items() if key != "account_id"},
                where=table.c.version < snapshot.version,
            )
            .returning(table.c.version)
        )
        return (await self._session.execute(statement)).first() is not None

    async def save_credit_state(self, state: CreditState, at: datetime) -> bool:
        """Store the credit state unless a newer or equal version is stored; True when stored."""
        table = credit_state_table
        statement = (
            insert(table)
            .values(account_id=state.account_id, version=state.version, exhausted=state.exhausted, updated_at=at)
            .on_conflict_do_update(
                index_elements=["account_id"],
                set_={"version": state.version, "exhausted": state.exhausted, "updated_at": at},
                where=table.c.version < state.version,
            )
            .returning(table.c.version)
        )
        return (await self._session.execute(statement)).first() is not None

    async def load(self, account_id: str) -> tuple[AgentConfigSnapshot | None, int, bool, int]:
        """(snapshot, its version, credits exhausted, credit version) in one query; -1 versions when unknown."""
        config = select(account_config_table.c.snapshot, account_config_table.c.version).where(
            account_config_table.c.account_id == account_id
        )
        credit = select(credit_state_table.c.exhausted, credit_state_table.c.version).where(
            credit_state_table.c.account_id == account_id
        )
        config_row = (await self._session.execute(config)).first()
        credit_row = (await self._session.execute(credit)).first()
        snapshot = AgentConfigSnapshot.model_validate(config_row.snapshot) if config_row is not None else None
        return (
            snapshot,
            config_row.version if config_row is not None else -1,
            bool(credit_row.exhausted) if credit_row is not None else False,
            credit_row.version if credit_row is not None else -1,
        )
