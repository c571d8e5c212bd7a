"""Batch subscribers: the events of one Kafka fetch handled in one database transaction.

A per-message transaction costs a BEGIN, an inbox insert, an outbox insert and a
COMMIT per event in every hop. A batch subscriber gets what one fetch returned
(up to ``max_records``; a single message when traffic is light, so latency does
not wait for a batch to fill) and runs the use case for each event inside one
``shared_transaction``: the use cases' units of work join it, their staged
events are inserted together, and the batch commits once.

Nothing changes for correctness: a record that is not a valid event is
dead-lettered by the decoder before the batch runs; if any event of the batch
fails (or outlasts the handler timeout), the whole transaction rolls back and
every event is handled again on its own, with the per-message retries and
dead-lettering of ``retries`` (an outage is waited out on the first of them). Each use
case still claims its event id in the inbox, so a redelivered batch is harmless.
Offsets are committed only after the batch (or every event of a split batch) is done.

Every batch has a fixed cost (a transaction, round trips, an offset commit), which a
consumer whose latency matters little (metering, statistics) shares among more
events by letting the broker gather a fuller batch (``gather_ms``).

A batch waits on PostgreSQL and OpenSearch for much of its time. ``concurrency``
consumers of the same group (see ``subscriber``) each take a share of the
topic's partitions and run their own batches, so one batch's round trips
overlap another's work. Each consumer still handles its partitions in order.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from faststream import StreamMessage
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from customer_agent_shared.events.envelope import (
    CloudEvent,
    EventParseError,
    require_event_type,
    require_one_account,
    serialize_event,
)
from customer_agent_shared.messaging.reliable import ReliableConsumerConfig, dead_letter_record
from customer_agent_shared.messaging.retries import run_with_retries
from customer_agent_shared.observability.logging import log_context
from customer_agent_shared.observability.metrics import (
    CONSUMER_BATCH_SIZE,
    CONSUMER_BATCHES,
    EVENT_HANDLING_SECONDS,
    EVENTS_CONSUMED,
)

logger = logging.getLogger(__name__)

EventT = TypeVar("EventT", bound=CloudEvent[Any])

IDLE_WAIT_MS = 10
"""FastStream's wait for records before it sleeps as long again; used only if ``poll_until_records`` cannot
replace its poll."""

GATHER_BYTES_PER_EVENT = 1024
"""About the size of one event on the wire: a gathering fetch returns early once a batch of them is there."""

POLL_WAIT_MS = 200
"""How long one poll of an idle batch consumer waits for records (it returns as soon as some arrive)."""


class CommittableTransaction(Protocol):
    """What a batch needs from its transaction: commit it (leaving the context unfinished rolls back)."""

    async def commit(self) -> None:
        """Commit everything the batch's use cases did."""

    async def claim_events(self, consumer: str, event_ids: list[str]) -> set[str]:
        """Claim the batch's event ids in the inbox in one statement (use cases' claims then find them);
        returns the ids not handled before."""


@dataclass(frozen=True)
class _DecodedRecord(Generic[EventT]):
    event: EventT
    record: Any
    """The Kafka record the event came from (for dead-lettering)."""


# The decoder and the subscriber run in the same task: the decoder leaves the records here for ``run``.
_decoded_records: ContextVar[tuple[_DecodedRecord[Any], ...]] = ContextVar("decoded_records", default=())


class BatchConsumer:
    """Decodes and runs batches of events for one service (see the module docstring)."""

    def __init__(
        self,
        config: ReliableConsumerConfig,
        transaction: Callable[[], AbstractAsyncContextManager[CommittableTransaction]],
        *,
        batch_size: int,
        concurrency: int = 1,
        gather_ms: int = 0,
    ) -> None:
        self._config = config
        self._transaction = transaction
        self._batch_size = batch_size
        self._concurrency = concurrency
        self._gather_ms = gather_ms

    def subscriber_options(self) -> dict[str, Any]:
        """Keyword arguments of a batch subscriber: take what one fetch returns, up to the batch size."""
        # FastStream sleeps as long again after a wait that found nothing: a short wait keeps a message
        # that arrives on a quiet topic from waiting for a long sleep (see ``poll_until_records``).
        options: dict[str, Any] = {"batch": True, "max_records": self._batch_size, "batch_timeout_ms": IDLE_WAIT_MS}
        if self._gather_ms > 0:
            # The broker holds the fetch until about a full batch is there or the time is up: no client CPU
            # spent waiting, and one batch (one transaction, one offset commit) for many events.
            options["fetch_max_wait_ms"] = self._gather_ms
            options["fetch_min_bytes"] = self._batch_size * GATHER_BYTES_PER_EVENT
        return options

    def subscriber(self, broker: KafkaBroker, topic: str, *, title: str, **options: Any) -> Callable[[Any], Any]:
        """Subscribe a batch handler to ``topic`` with ``concurrency`` consumers of one group (see the module).

        ``options`` are FastStream subscriber options (group, decoder, description, ...); AsyncAPI lists the
        first subscriber only, as the others consume the same topic in the same group.
        """

        def register(handler: Any) -> Any:
            wrapped = handler
            for number in range(self._concurrency):
                subscriber = broker.subscriber(
                    topic,
                    title=title if number == 0 else f"{title} ({number + 1})",
                    include_in_schema=number == 0,
                    **self.subscriber_options(),
                    **options,
                )
                wrapped = subscriber(wrapped)
                poll_until_records(subscriber)
            return wrapped

        return register

    def decoder(
        self, model: type[EventT], *, event_types: tuple[str, ...] = ()
    ) -> Callable[[StreamMessage[Any]], Awaitable[list[EventT]]]:
        """A FastStream decoder for a batch subscriber of ``model``: invalid records, and events of a type not
        in ``event_types`` (when given), go to the dead-letter topic."""

        async def decode_batch(message: StreamMessage[Any]) -> list[EventT]:
            raw = message.raw_message
            records = raw if isinstance(raw, tuple) else (raw,)
            decoded: list[_DecodedRecord[EventT]] = []
            for record in records:
                try:
                    event = model.model_validate_json(record.value or b"")
                    # A payload that happens to fit the model is still not this topic's event.
                    require_event_type(event.type, event_types)
                    require_one_account(event.accountid, getattr(event.data, "account_id", None))
                except EventParseError as problem:
                    await self._dead_letter_undecodable(record, problem)
                    continue
                except (ValidationError, ValueError, UnicodeDecodeError) as error:
                    await self._dead_letter_undecodable(
                        record, EventParseError(f"not a valid {model.__name__}: {error}")
                    )
                    continue
                decoded.append(_DecodedRecord(event, record))
            _decoded_records.set(tuple(decoded))
            if decoded:
                CONSUMER_BATCH_SIZE.labels(service=self._config.service, topic=decoded[0].record.topic).observe(
                    len(decoded)
                )
            return [item.event for item in decoded]

        return decode_batch

    async def _dead_letter_undecodable(self, record: Any, problem: EventParseError) -> None:
        with log_context(topic=record.topic):
            await dead_letter_record(self._config, record, problem, attempts=1)

    async def run(
        self,
        events: Sequence[EventT],
        handle: Callable[[EventT], Awaitable[object]],
        *,
        inbox_consumer: str | None = None,
        prepare: Callable[[Sequence[EventT]], Awaitable[object]] | None = None,
    ) -> None:
        """Handle ``events`` in one transaction; after a failure, each in its own with retries.

        ``inbox_consumer``: the name the use case claims its events under; the batch then claims them
        all in one statement first (a use case claiming under another name still claims on its own).
        ``prepare``: called inside the transaction before the first event, with all of them (those the
        inbox claim found handled before left out), to do set-wise what each event would do alone (lock all
        their rows in one statement, say). A batch that splits runs each event on its own without it.
        """
        items = [item for item in self._items(events) if not await self._seen_before(item)]
        if not items:
            return
        topic = _topic(items[0])
        if len(items) > 1:
            started = time.perf_counter()
            try:
                # A hung batch is cancelled (rolled back) like a hung handler, then split.
                async with asyncio.timeout(self._config.handler_timeout_seconds), self._transaction() as transaction:
                    fresh = [item.event for item in items]
                    if inbox_consumer is not None:
                        new_ids = await transaction.claim_events(inbox_consumer, [event.id for event in fresh])
                        # An event handled before is skipped by its use case: nothing to prepare for it.
                        fresh = [event for event in fresh if event.id in new_ids]
                    if prepare is not None and fresh:
                        await prepare(fresh)
                    for item in items:
                        with _event_log_context(item):
                            await handle(item.event)
                    await transaction.commit()
            except Exception as error:
                CONSUMER_BATCHES.labels(service=self._config.service, topic=topic, outcome="split").inc()
                logger.warning(
                    "batch failed; handling its events one at a time",
                    extra={"topic": topic, "events": len(items), "error": repr(error)},
                )
            else:
                CONSUMER_BATCHES.labels(service=self._config.service, topic=topic, outcome="committed").inc()
                per_event = (time.perf_counter() - started) / len(items)
                for item in items:
                    await self._handled(item, per_event)
                return
        for item in items:
            await self._run_one(item, handle)

    async def run_by_key(
        self, events: Sequence[EventT], handle: Callable[[EventT], Awaitable[object]], *, parallel: int
    ) -> None:
        """Handle ``events`` each in its own transaction: those of one Kafka key in order, different keys at
        once (at most ``parallel``). For slow use cases whose wait is outside the database (a hosted model):
        one thread's answer no longer waits for every other thread's. Offsets are committed after the whole
        batch; if one event cannot be handled or dead-lettered, the others are cancelled and the batch comes
        back (the inbox drops what was done)."""
        items = [item for item in self._items(events) if not await self._seen_before(item)]
        by_key: dict[object, list[_DecodedRecord[EventT]]] = {}
        for item in items:
            by_key.setdefault(getattr(item.record, "key", None) or id(item), []).append(item)
        slots = asyncio.Semaphore(max(1, parallel))

        async def run_in_order(group: list[_DecodedRecord[EventT]]) -> None:
            for item in group:
                async with slots:
                    await self._run_one(item, handle)

        async with asyncio.TaskGroup() as tasks:
            for group in by_key.values():
                tasks.create_task(run_in_order(group))

    def _items(self, events: Sequence[EventT]) -> list[_DecodedRecord[EventT]]:
        """The decoded records of ``events`` (a bare event when it did not come through the decoder)."""
        by_identity = {id(item.event): item for item in _decoded_records.get()}
        return [by_identity.get(id(event)) or _DecodedRecord(event, None) for event in events]

    async def _run_one(self, item: _DecodedRecord[EventT], handle: Callable[[EventT], Awaitable[object]]) -> None:
        topic = _topic(item)
        started = time.perf_counter()

        async def dead_letter(error: BaseException, attempts: int) -> None:
            # Without its record (never expected) the event itself is what goes to the dead-letter topic.
            value = None if item.record is not None else serialize_event(item.event)
            await dead_letter_record(self._config, item.record, error, attempts=attempts, topic=topic, value=value)

        with _event_log_context(item):
            handled, _ = await run_with_retries(self._config, topic, lambda: handle(item.event), dead_letter)
            if handled:
                await self._handled(item, time.perf_counter() - started)

    async def _seen_before(self, item: _DecodedRecord[Any]) -> bool:
        registry = self._config.registry
        if registry is None or not await registry.was_processed(self._consumer_key(item), item.event.id):
            return False
        EVENTS_CONSUMED.labels(service=self._config.service, topic=_topic(item), outcome="duplicate").inc()
        return True

    async def _handled(self, item: _DecodedRecord[Any], seconds: float) -> None:
        topic = _topic(item)
        if self._config.registry is not None:
            await self._config.registry.mark_processed(self._consumer_key(item), item.event.id)
        EVENTS_CONSUMED.labels(service=self._config.service, topic=topic, outcome="handled").inc()
        EVENT_HANDLING_SECONDS.labels(service=self._config.service, topic=topic).observe(seconds)

    def _consumer_key(self, item: _DecodedRecord[Any]) -> str:
        return f"{self._config.dedup_namespace or self._config.service}:{_topic(item)}"


def poll_until_records(subscriber: Any) -> None:
    """Make an idle batch subscriber wait in one poll until records arrive (up to ``POLL_WAIT_MS``).

    FastStream's batch subscriber polls for ``batch_timeout_ms`` and, when nothing came, sleeps as long
    again: with a short wait an idle consumer wakes 50 times a second (about 1 % of a core for each,
    ~16 % of a core for the whole stack at rest), and a record arriving during the sleep waits for it.
    A poll returns as soon as records arrive, so one long poll with no sleep costs neither. A subscriber
    not of the kind this knows how to poll keeps FastStream's own loop (with a warning).
    """
    if not callable(getattr(subscriber, "get_msg", None)) or not hasattr(subscriber, "max_records"):
        logger.warning("batch subscriber of an unknown kind: keeping FastStream's poll and sleep")
        return

    async def get_msg(consumer: Any) -> tuple[Any, ...]:
        batches = await consumer.getmany(timeout_ms=POLL_WAIT_MS, max_records=subscriber.max_records)
        return tuple(record for records in batches.values() for record in records)

    subscriber.get_msg = get_msg


def _topic(item: _DecodedRecord[Any]) -> str:
    return str(getattr(item.record, "topic", "unknown"))


def _event_log_context(item: _DecodedRecord[Any]) -> Any:
    data = item.event.data
    thread_id = getattr(data, "thread_id", None)
    return log_context(event_id=item.event.id, account_id=item.event.accountid, thread_id=thread_id, topic=_topic(item))
