"""The outbox relay's statements: lease and read a pass, check the lease, mark the pass (see ``outbox``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Table,
    Text,
    and_,
    any_,
    bindparam,
    case,
    column,
    delete,
    false,
    func,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import ARRAY

from customer_agent_shared.persistence.advisory_locks import lock_holders, lock_key
from customer_agent_shared.persistence.outbox_dead import outbox_dead_of

_LOCK_NAME = bindparam("lock_name", type_=Text)
_LOCK_KEY = lock_key(_LOCK_NAME)


def _lease_held() -> ColumnElement[bool]:
    return func.pg_backend_pid().in_(lock_holders(_LOCK_NAME))


LEASE_CHECK = select(_lease_held().label("held"))
"""True while this connection's session holds the relay's lock."""

UNLOCK = select(func.pg_advisory_unlock(_LOCK_KEY))


def lock_and_read_statement(outbox: Table) -> Select[Any]:
    """Take the lock and read the first pending rows, up to ``batch_size`` rows and ``budget_bytes`` bytes.

    The budget counts the rows before each one (``loaded - size``), so the first row is read whatever its
    size and a pass holds at most the budget plus one row. ``octet_length`` of a stored payload reads its
    length word, not the payload. One row with ``held`` comes back even when nothing is pending (the LEFT
    JOIN), so the caller knows to unlock; a volatile function in a WITH query runs once, first.
    """
    leader = select(func.pg_try_advisory_lock(_LOCK_KEY).label("held")).cte("leader")
    size = func.octet_length(outbox.c.payload)
    candidates = (
        select(outbox.c.id, size.label("size"), func.sum(size).over(order_by=outbox.c.id).label("loaded"))
        .join_from(outbox, leader, leader.c.held)
        .where(outbox.c.published_at.is_(None))
        .order_by(outbox.c.id)
        .limit(bindparam("batch_size"))
        .subquery("candidates")
    )
    pending = (
        select(
            outbox.c.id, outbox.c.topic, outbox.c.message_key, outbox.c.payload, outbox.c.event_id, candidates.c.loaded
        )
        .join_from(candidates, outbox, outbox.c.id == candidates.c.id)
        .where(candidates.c.loaded - candidates.c.size < bindparam("budget_bytes", type_=BigInteger))
        .order_by(outbox.c.id)
        .lateral("pending")
    )
    return select(leader.c.held, pending).select_from(leader.outerjoin(pending, true()))


def mark_statement(outbox: Table) -> Select[Any]:
    """Delete the sent rows, move the refused ones to ``outbox_dead`` and unlock, only if the lease still holds.

    One statement, so one transaction: a relay whose session lost the lock (another relay may have taken
    over) marks nothing and reads ``held`` false. The unlock sits in a CASE whose condition reads both
    data-modifying WITH queries, so the deletes run (and see the lease) before the lock is let go.
    """
    dead = outbox_dead_of(outbox)
    lease = select(_lease_held().label("held")).cte("lease")
    held = select(lease.c.held).scalar_subquery()
    dead_ids = bindparam("dead_ids", type_=ARRAY(BigInteger))
    sent = (
        delete(outbox)
        .where(outbox.c.id == any_(bindparam("sent_ids", type_=ARRAY(BigInteger))), held)
        .returning(outbox.c.id)
        .cte("sent")
    )
    refused = delete(outbox).where(outbox.c.id == any_(dead_ids), held).returning(*outbox.c).cte("refused")
    reasons = (
        func.unnest(dead_ids, bindparam("dead_reasons", type_=ARRAY(Text)))
        .table_valued(column("id", BigInteger), column("reason", Text))
        .render_derived(name="reasons")
    )
    copied = ["id", "event_id", "topic", "message_key", "payload", "created_at"]
    moved = (
        dead.insert()
        .from_select(
            [*copied, "reason"],
            select(*(refused.c[name] for name in copied), reasons.c.reason).join_from(
                refused, reasons, reasons.c.id == refused.c.id
            ),
        )
        .returning(dead.c.id)
        .cte("moved")
    )
    finished = and_(
        select(func.count()).select_from(sent).scalar_subquery() >= 0,
        select(func.count()).select_from(moved).scalar_subquery() >= 0,
    )
    return select(lease.c.held, case((finished, func.pg_advisory_unlock(_LOCK_KEY)), else_=false()).label("unlocked"))
