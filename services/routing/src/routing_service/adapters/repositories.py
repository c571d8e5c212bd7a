"""Repositories over routing's tables; they use the unit of work's session and never commit."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from customer_agent_shared.events.channels import (
    AssigneeKind,
    ChannelRef,
    ChannelType,
    MessageReceived,
)
from customer_agent_shared.persistence.unit_of_work import TransactionScopedRepository
from sqlalchemy import BindParameter, Insert, and_, bindparam, exists, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import ARRAY, insert

from routing_service.adapters.orm import (
    threads_table,
    transcript_table,
    transitions_table,
)
from routing_service.adapters.transcript_repository import RECORD_ENTRY
from routing_service.domain.model import RoutedThread
from routing_service.domain.ownership import ThreadState, Transition


def thread_of(row: Any) -> RoutedThread:
    """A thread as its row holds it."""
    return RoutedThread(
        account_id=row.account_id,
        thread_id=row.thread_id,
        state=ThreadState(row.state),
        channel=ChannelRef(type=ChannelType(row.channel_type), id=row.channel_id),
        assignee_kind=AssigneeKind(row.assignee_kind) if row.assignee_kind else None,
        assignee_id=row.assignee_id,
        powered_by_ai=row.powered_by_ai,
        locale=row.locale,
        last_message_id=row.last_message_id,
        messages=row.messages,
    )


# The statements run for every message are built once, with bindparam() placeholders, and executed
# with a parameters dict: a reused statement object keeps its cache key and compiled form, whereas
# building one per call costs SQLAlchemy a new construction and cache key every time.

_ADD_ENTRY = RECORD_ENTRY.returning(transcript_table.c.id)
"""Store one transcript entry unless its key is there; returns its id when stored."""

_RECEIVED_COLUMNS = (
    "account_id",
    "thread_id",
    "state",
    "channel_type",
    "channel_id",
    "locale",
    "last_message_id",
    "messages",
    "created_at",
    "updated_at",
)
_RECEIVED_CONSTANTS = {"state": ThreadState.NEW.value, "messages": 1}
"""Columns of a thread created by its first message that take the same value every time."""


def _received_value(name: str) -> BindParameter[Any]:
    # Typed: in a SELECT list the database cannot infer a parameter's type from a column.
    column_type = threads_table.c[name].type
    if name in _RECEIVED_CONSTANTS:
        return literal(_RECEIVED_CONSTANTS[name], type_=column_type)
    return bindparam(name, type_=column_type)


def _build_receive() -> Insert:
    # Parameters of the same name share one value: the transcript entry, the new row and the update
    # of an existing row all take account_id, thread_id, last_message_id, locale and updated_at from it.
    entry = _ADD_ENTRY.cte("entry")
    source = select(*(_received_value(name).label(name) for name in _RECEIVED_COLUMNS))
    table = threads_table
    return (
        insert(table)
        .from_select(list(_RECEIVED_COLUMNS), source.where(exists(select(entry.c.id))))
        .on_conflict_do_update(
            index_elements=["account_id", "thread_id"],
            set_={
                "messages": table.c.messages + 1,
                "last_message_id": bindparam("last_message_id", type_=table.c.last_message_id.type),
                "locale": func.coalesce(bindparam("locale", type_=table.c.locale.type), table.c.locale),
                "updated_at": bindparam("updated_at", type_=table.c.updated_at.type),
            },
        )
        .returning(*table.c)
    )


_RECEIVE = _build_receive()
"""Store a visitor message in the transcript and create or count its thread (see ``ThreadRepository.receive``)."""

_INCOMING_COLUMNS = (
    "account_id",
    "thread_id",
    "entry_key",
    "text",
    "at",
    "channel_type",
    "channel_id",
    "locale",
    "last_message_id",
)


def _column_type(name: str) -> Any:
    table = transcript_table if name in ("entry_key", "text", "at") else threads_table
    return table.c[name].type


def _build_receive_many() -> Insert:
    # The messages come as one array per column; unnest() side by side in a SELECT list zips them.
    incoming = select(
        *(func.unnest(bindparam(name, type_=ARRAY(_column_type(name)))).label(name) for name in _INCOMING_COLUMNS)
    ).cte("incoming")
    entry = (
        insert(transcript_table)
        .from_select(
            ["account_id", "thread_id", "entry_key", "role", "text", "at"],
            select(
                incoming.c.account_id,
                incoming.c.thread_id,
                incoming.c.entry_key,
                literal("visitor", type_=transcript_table.c.role.type),
                incoming.c.text,
                incoming.c.at,
            ),
        )
        .on_conflict_do_nothing(index_elements=["account_id", "thread_id", "entry_key"])
        .returning(transcript_table.c.account_id, transcript_table.c.thread_id)
        .cte("entry")
    )
    now = bindparam("now", type_=threads_table.c.updated_at.type)
    source = select(
        incoming.c.account_id,
        incoming.c.thread_id,
        literal(ThreadState.NEW.value, type_=threads_table.c.state.type),
        incoming.c.channel_type,
        incoming.c.channel_id,
        incoming.c.locale,
        incoming.c.last_message_id,
        literal(1, type_=threads_table.c.messages.type),
        now,
        now,
    ).join_from(
        incoming, entry, and_(entry.c.account_id == incoming.c.account_id, entry.c.thread_id == incoming.c.thread_id)
    )
    table = threads_table
    statement = insert(table).from_select(list(_RECEIVED_COLUMNS), source)
    return statement.on_conflict_do_update(
        index_elements=["account_id", "thread_id"],
        set_={
            "messages": table.c.messages + 1,
            "last_message_id": statement.excluded.last_message_id,
            "locale": func.coalesce(statement.excluded.locale, table.c.locale),
            "updated_at": statement.excluded.updated_at,
        },
    ).returning(*table.c)


_RECEIVE_MANY = _build_receive_many()
"""``_RECEIVE`` for messages of distinct threads at once (see ``ThreadRepository.receive_many``)."""

_LOCK_THREAD = (
    select(threads_table)
    .where(
        threads_table.c.account_id == bindparam("b_account_id"),
        threads_table.c.thread_id == bindparam("b_thread_id"),
    )
    .with_for_update()
)

_LOCK_THREADS = (
    select(threads_table)
    .where(tuple_(threads_table.c.account_id, threads_table.c.thread_id).in_(bindparam("keys", expanding=True)))
    .order_by(threads_table.c.account_id, threads_table.c.thread_id)
    .with_for_update()
)
"""Lock threads' rows in key order: ORDER BY is applied before FOR UPDATE, so the rows are locked in it."""
_LOCK_THREAD_KEYS = _LOCK_THREADS.with_only_columns(threads_table.c.account_id, threads_table.c.thread_id)
"""The same lock, reading only the keys (for a batch that rewrites the rows at once)."""

_STATES = select(threads_table.c.account_id, threads_table.c.thread_id, threads_table.c.state).where(
    tuple_(threads_table.c.account_id, threads_table.c.thread_id).in_(bindparam("keys", expanding=True))
)

_SAVED_COLUMNS = (
    "state",
    "assignee_kind",
    "assignee_id",
    "powered_by_ai",
    "locale",
    "last_message_id",
    "messages",
    "updated_at",
)
# The WHERE parameters are prefixed: a parameter named like a column would also be SET by SQLAlchemy.
_SAVE_THREAD = (
    update(threads_table)
    .where(
        threads_table.c.account_id == bindparam("b_account_id"),
        threads_table.c.thread_id == bindparam("b_thread_id"),
    )
    .values({name: bindparam(name) for name in _SAVED_COLUMNS})
)

_INSERT_TRANSITIONS = transitions_table.insert()


class ThreadRepository(TransactionScopedRepository):
    """Thread ownership rows and their transitions.

    ``receive_many`` receives the first message of each thread of a batch in one statement; each
    message's ``receive`` then takes its result from what the transaction kept, once. Likewise each thread
    ``lock_in_order`` locked is taken by its first ``lock``; a write of the thread here forgets it.
    """

    async def receive(self, message: MessageReceived, *, sent_at: datetime, now: datetime) -> RoutedThread | None:
        """In one statement: store the visitor message in the transcript and lock (or create) its thread,
        counting the message on it. None when the message_id was already received (a re-published message).

        The returned state is the ownership before this message is decided.
        """
        received_ahead = ("received", message.account_id, message.thread_id, message.message_id)
        if received_ahead in self._kept:
            record: RoutedThread | None = self._kept.pop(received_ahead)
            return record
        self._forget_locked(message.account_id, message.thread_id)
        parameters = {
            "account_id": message.account_id,
            "thread_id": message.thread_id,
            "entry_key": f"message:{message.message_id}",
            "role": "visitor",
            "text": message.text,
            "at": sent_at,
            "channel_type": message.channel.type.value,
            "channel_id": message.channel.id,
            "locale": message.sender.locale,
            "last_message_id": message.message_id,
            "created_at": now,
            "updated_at": now,
        }
        row = (await self._session.execute(_RECEIVE, parameters)).first()
        return thread_of(row) if row is not None else None

    async def receive_many(self, messages: Sequence[tuple[MessageReceived, datetime]], now: datetime) -> None:
        """``receive`` for messages of distinct threads (with their sent_at) in one statement, in thread
        order; each one's ``receive`` in this transaction then answers from the result without a statement."""
        ordered = sorted(messages, key=lambda item: (item[0].account_id, item[0].thread_id))
        if len({(message.account_id, message.thread_id) for message, _ in ordered}) != len(ordered):
            raise ValueError("receive_many takes at most one message per thread")
        if not ordered:
            return
        columns: dict[str, list[Any]] = {name: [] for name in _INCOMING_COLUMNS}
        for message, sent_at in ordered:
            columns["account_id"].append(message.account_id)
            columns["thread_id"].append(message.thread_id)
            columns["entry_key"].append(f"message:{message.message_id}")
            columns["text"].append(message.text)
            columns["at"].append(sent_at)
            columns["channel_type"].append(message.channel.type.value)
            columns["channel_id"].append(message.channel.id)
            columns["locale"].append(message.sender.locale)
            columns["last_message_id"].append(message.message_id)
        rows = await self._session.execute(_RECEIVE_MANY, {**columns, "now": now})
        received = {(row.account_id, row.thread_id): thread_of(row) for row in rows}
        for message, _ in ordered:
            key = ("received", message.account_id, message.thread_id, message.message_id)
            self._kept[key] = received.get((message.account_id, message.thread_id))  # None: received before
            self._forget_locked(message.account_id, message.thread_id)

    async def states(self, keys: Collection[tuple[str, str]]) -> dict[tuple[str, str], ThreadState]:
        """The state of each of these (account, thread) routing has seen, read without locking the threads: it
        may change before they are locked."""
        if not keys:
            return {}
        rows = await self._session.execute(_STATES, {"keys": list(keys)})
        return {(row.account_id, row.thread_id): ThreadState(row.state) for row in rows}

    async def lock_in_order(self, keys: Collection[tuple[str, str]], *, keep: bool = True) -> None:
        """Lock the rows of these (account, thread) routing has seen, in (account, thread) order, keeping each
        for its first ``lock`` in this transaction (``keep``; a batch that receives its messages at once would
        only drop them).

        A transaction that may lock more than one thread (a batch) locks them all this way before any other, so
        two transactions locking the same threads wait for each other in one order, never in a cycle.
        """
        if not keys:
            return
        parameters = {"keys": sorted(set(keys))}
        if not keep:
            await self._session.execute(_LOCK_THREAD_KEYS, parameters)
            return
        for row in await self._session.execute(_LOCK_THREADS, parameters):
            self._kept[_locked(row.account_id, row.thread_id)] = thread_of(row)

    async def lock(self, account_id: str, thread_id: str) -> RoutedThread | None:
        """The thread's row locked for this transaction, or None when routing never saw the thread; the row
        ``lock_in_order`` kept for it if any (taken once), else locked and read now."""
        kept: RoutedThread | None = self._kept.pop(_locked(account_id, thread_id), None)
        if kept is not None:
            # A copy: a savepoint rolled back puts the kept row back, and the handler changes the one it gets.
            return replace(kept)
        row = (
            await self._session.execute(_LOCK_THREAD, {"b_account_id": account_id, "b_thread_id": thread_id})
        ).first()
        return thread_of(row) if row is not None else None

    def _forget_locked(self, account_id: str, thread_id: str) -> None:
        """A thread written here is no longer as ``lock_in_order`` read it."""
        self._kept.pop(_locked(account_id, thread_id), None)

    async def save(self, thread: RoutedThread, now: datetime) -> None:
        """Write the thread's state back."""
        self._forget_locked(thread.account_id, thread.thread_id)
        await self._session.execute(
            _SAVE_THREAD,
            {
                "b_account_id": thread.account_id,
                "b_thread_id": thread.thread_id,
                "state": thread.state.value,
                "assignee_kind": thread.assignee_kind.value if thread.assignee_kind else None,
                "assignee_id": thread.assignee_id,
                "powered_by_ai": thread.powered_by_ai,
                "locale": thread.locale,
                "last_message_id": thread.last_message_id,
                "messages": thread.messages,
                "updated_at": now,
            },
        )

    async def record_transitions(
        self,
        thread: RoutedThread,
        transitions: tuple[Transition, ...],
        *,
        cause_event_id: str,
        cause_event_type: str,
        reason: str | None,
        at: datetime,
    ) -> None:
        """Append each transition with the event that caused it."""
        if not transitions:
            return
        await self._session.execute(
            _INSERT_TRANSITIONS,
            [
                {
                    "account_id": thread.account_id,
                    "thread_id": thread.thread_id,
                    "from_state": step.from_state.value,
                    "to_state": step.to_state.value,
                    "cause_event_id": cause_event_id,
                    "cause_event_type": cause_event_type,
                    "reason": reason,
                    "assignee_kind": thread.assignee_kind.value if thread.assignee_kind else None,
                    "assignee_id": thread.assignee_id,
                    "at": at,
                }
                for step in transitions
            ],
        )


def _locked(account_id: str, thread_id: str) -> tuple[str, str, str]:
    """The key under which ``lock_in_order`` keeps a thread for its first ``lock``."""
    return ("locked", account_id, thread_id)
