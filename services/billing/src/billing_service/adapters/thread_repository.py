"""What billing knows about each thread, over its threads table; the repository never commits."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from customer_agent_shared.events.billing import PricingRule
from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import (
    Numeric,
    Row,
    Select,
    String,
    all_,
    and_,
    bindparam,
    case,
    cast,
    delete,
    extract,
    func,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY, insert

from billing_service.adapters.orm import accounts_table, threads_table
from billing_service.domain.pricing import ThreadFacts

# Statements built once with bindparam() placeholders, as in ``repositories`` (a reused statement keeps its
# compiled form); WHERE parameters are prefixed where a parameter named like a column would also be SET.

_IDS = ARRAY(String)

_GET_THREAD = select(threads_table).where(
    threads_table.c.account_id == bindparam("b_account_id"), threads_table.c.thread_id == bindparam("b_thread_id")
)

_THREAD_FACTS = (
    "answered",
    "handed_off",
    "negative_feedback",
    "billable",
    "charged",
    "last_activity_at",
    "resolved_at",
    "answered_at",
    "handed_off_at",
    "closed_at",
)
"""The columns of a thread's facts, each named as its ``ThreadFacts`` field."""
_HANDOFF_ENDED = and_(
    threads_table.c.handed_off_at < threads_table.c.closed_at, threads_table.c.closed_at < threads_table.c.answered_at
)
"""``pricing.handoff_ended`` in SQL (a time not kept is null, and so is the comparison: not ended)."""
_PLAN_HOURS = accounts_table.c.plan["resolution_hours"]
_RESOLUTION_HOURS = case(
    (func.jsonb_typeof(_PLAN_HOURS) == "number", cast(_PLAN_HOURS.astext, Numeric)),
    (_PLAN_HOURS.astext.regexp_match("^[0-9]+$"), cast(_PLAN_HOURS.astext, Numeric)),  # "72", as the plan reads it
)
"""The plan's resolution hours; null (no thread of the account is quiet) unless the stored plan holds a number.
A CASE, since PostgreSQL may evaluate a WHERE's conditions in any order: a cast beside a type check could still
meet a hand-edited ``"72h"`` and fail every pass's query, not just that account's threads. Compared as seconds in
numeric, which no number overflows."""
_NEW_THREAD = insert(threads_table).values(
    account_id=bindparam("account_id"),
    thread_id=bindparam("thread_id"),
    **{name: bindparam(name) for name in _THREAD_FACTS},
)
# An existing thread gets the same facts as a new one (``excluded``: also right when many rows go at once).
_SAVE_THREAD = _NEW_THREAD.on_conflict_do_update(
    index_elements=["account_id", "thread_id"],
    set_={name: _NEW_THREAD.excluded[name] for name in _THREAD_FACTS},
)


def _facts(row: Row[Any]) -> ThreadFacts:
    return ThreadFacts(**{name: getattr(row, name) for name in _THREAD_FACTS})


class ThreadRepository(TransactionScopedRepository):
    """What billing knows about each thread (for resolutions and the once-per-thread charge).

    Facts read or written in a transaction are kept until it ends, and writes wait for a batch's commit
    (see ``AccountRepository``); in a batch, ``get_many`` reads them in one statement.
    """

    async def get(self, account_id: str, thread_id: str) -> ThreadFacts:
        """The thread's facts (empty facts for a thread never seen)."""
        known = self._kept.get((account_id, thread_id))
        if isinstance(known, ThreadFacts):
            return known
        row = (await self._session.execute(_GET_THREAD, {"b_account_id": account_id, "b_thread_id": thread_id})).first()
        facts = ThreadFacts() if row is None else _facts(row)
        self._kept[(account_id, thread_id)] = facts
        return facts

    async def get_many(self, keys: Collection[tuple[str, str]]) -> None:
        """Read the facts of several threads by (account, thread) in one statement; ``get`` then answers."""
        wanted = set(keys) - self._kept.keys()
        if not wanted:
            return
        rows = await self._session.execute(
            select(threads_table).where(tuple_(threads_table.c.account_id, threads_table.c.thread_id).in_(wanted))
        )
        for row in rows:
            self._kept[(row.account_id, row.thread_id)] = _facts(row)
        for key in wanted - self._kept.keys():
            self._kept[key] = ThreadFacts()

    async def save(self, account_id: str, thread_id: str, facts: ThreadFacts) -> None:
        """Insert or update the thread's facts (in a batch: at its commit)."""
        self._kept[(account_id, thread_id)] = facts
        await self._write(
            _SAVE_THREAD,
            (account_id, thread_id),
            {
                "account_id": account_id,
                "thread_id": thread_id,
                **{name: getattr(facts, name) for name in _THREAD_FACTS},
            },
        )

    async def forget_quiet(self, quiet_since: datetime, limit: int) -> int:
        """Delete up to ``limit`` threads with no activity since ``quiet_since``; return how many."""
        oldest = (
            select(threads_table.c.account_id, threads_table.c.thread_id)
            .where(threads_table.c.last_activity_at < quiet_since)
            .limit(limit)
            .subquery()
        )
        result = await self._session.execute(
            delete(threads_table).where(
                tuple_(threads_table.c.account_id, threads_table.c.thread_id).in_(
                    select(oldest.c.account_id, oldest.c.thread_id)
                )
            )
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def quiet_resolutions(
        self,
        now: datetime,
        limit: int,
        *,
        skip_accounts: Collection[str] = (),
        skip_threads: Collection[tuple[str, str]] = (),
    ) -> list[tuple[str, str]]:
        """Up to ``limit`` uncharged threads of per-resolution accounts quiet for the account's resolution hours,
        the longest quiet first, other than the threads of ``skip_accounts`` and the ``skip_threads``."""
        quiet = (
            select(threads_table.c.account_id, threads_table.c.thread_id)
            .join(accounts_table, accounts_table.c.account_id == threads_table.c.account_id)
            .where(
                ~threads_table.c.charged,
                threads_table.c.answered,
                or_(~threads_table.c.handed_off, _HANDOFF_ENDED),
                ~threads_table.c.negative_feedback,
                threads_table.c.billable,
                accounts_table.c.plan["pricing_rule"].astext == PricingRule.PER_RESOLUTION.value,
                extract("epoch", now - threads_table.c.last_activity_at) >= _RESOLUTION_HOURS * 3600,
            )
        )
        if skip_accounts:  # one array parameter, however many are skipped
            skipped = bindparam("b_skip_accounts", list(skip_accounts), type_=_IDS)
            quiet = quiet.where(threads_table.c.account_id != all_(skipped))
        if skip_threads:  # two array parameters, zipped back into (account, thread) pairs by unnest
            quiet = quiet.where(
                tuple_(threads_table.c.account_id, threads_table.c.thread_id).not_in(_pairs(skip_threads))
            )
        rows = await self._session.execute(quiet.order_by(threads_table.c.last_activity_at).limit(limit))
        return [(row.account_id, row.thread_id) for row in rows]


def _pairs(pairs: Collection[tuple[str, str]]) -> Select[tuple[str, str]]:
    """``pairs`` as rows of (account_id, thread_id), sent as two array parameters."""
    accounts = bindparam("b_skip_thread_accounts", [account for account, _ in pairs], type_=_IDS)
    threads = bindparam("b_skip_threads", [thread for _, thread in pairs], type_=_IDS)
    rows = func.unnest(accounts, threads).table_valued("account_id", "thread_id").render_derived()
    return select(rows.c.account_id, rows.c.thread_id)
