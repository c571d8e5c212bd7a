"""Repositories of what routing knows of each account: its folded configuration, credit state and people's loads."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Hashable, Iterable
from datetime import datetime
from typing import Any

from customer_agent_shared.events.billing import CreditState
from customer_agent_shared.events.channels import AssigneeKind
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.persistence.advisory_locks import take_locks, try_locks
from sqlalchemy import Integer, String, and_, bindparam, func, select, update
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

_FREED = (
    func.unnest(
        bindparam("account_ids", type_=ARRAY(String)),
        bindparam("assignee_kinds", type_=ARRAY(String)),
        bindparam("assignee_ids", type_=ARRAY(String)),
        bindparam("places", type_=ARRAY(Integer)),
    )
    .table_valued("account_id", "assignee_kind", "assignee_id", "places")
    .render_derived(name="freed")
)
_FREE_PLACES = (
    update(assignee_load_table)
    .where(
        and_(
            assignee_load_table.c.account_id == _FREED.c.account_id,
            assignee_load_table.c.assignee_kind == _FREED.c.assignee_kind,
            assignee_load_table.c.assignee_id == _FREED.c.assignee_id,
        )
    )
    .values(open_threads=func.greatest(0, assignee_load_table.c.open_threads - _FREED.c.places))
)
"""Take ``places`` off each user or team ``freed`` names, once each: an UPDATE ... FROM updates a row it joins
twice only once."""

_HELD = "held"


def _lock_name(account_id: str) -> str:
    return f"routing.assignments:{account_id}"


class LoadRepository:
    """Open threads per user and team of an account, and the locks on assigning in an account."""

    def __init__(self, session: AsyncSession, *, kept: dict[Hashable, Any] | None = None) -> None:
        self._session = session
        self._kept: dict[Hashable, Any] = {} if kept is None else kept
        """Lives as long as the transaction (``transaction_cache``): which accounts' assignments it holds."""

    async def wait_for_assignments(self, account_ids: Collection[str]) -> None:
        """The transaction's first hold: keep every other transaction from assigning in these accounts until
        this one ends, waiting for those another holds (without holding the others meanwhile: ``take_locks``).

        Loads are read, compared with capacities and counted up in separate statements: without this, two
        transactions could both see the last place free and both take it. When to wait and when only to try:
        ``handlers.assignment_holds``.
        """
        if self.first_hold_made():
            raise RuntimeError("only a transaction's first hold of assignments may wait")
        await take_locks(self._session, [_lock_name(account_id) for account_id in account_ids])
        self._kept[_HELD] = set(account_ids)

    async def hold_free_assignments(self, account_ids: Collection[str]) -> set[str]:
        """Hold those of these accounts' assignments no other transaction holds now, in one statement, never
        waiting; the accounts another holds (none: all are held now)."""
        held: set[str] = self._kept.setdefault(_HELD, set())
        wanted = {_lock_name(account_id): account_id for account_id in set(account_ids) - held}
        busy = set(await try_locks(self._session, wanted))
        held.update(account_id for name, account_id in wanted.items() if name not in busy)
        return {wanted[name] for name in busy}

    def first_hold_made(self) -> bool:
        """Whether this transaction held accounts' assignments already (even none)."""
        return _HELD in self._kept

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

    async def free(self, places: Iterable[tuple[str, LoadKey]]) -> None:
        """Free one place of each (account, user or team) listed, one more each time it is listed (never below
        zero), in one statement; the transaction holds these accounts' assignments, so no other changes the rows."""
        counted = sorted(Counter((account_id, kind.value, held_by) for account_id, (kind, held_by) in places).items())
        if not counted:
            return
        parameters = {
            "account_ids": [account_id for (account_id, _, _), _ in counted],
            "assignee_kinds": [kind for (_, kind, _), _ in counted],
            "assignee_ids": [assignee_id for (_, _, assignee_id), _ in counted],
            "places": [count for _, count in counted],
        }
        await self._session.execute(_FREE_PLACES, parameters)


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
