"""The reliable-consumer middleware every subscriber runs under.

For each Kafka message it: reads the CloudEvent id (an unreadable message is a
poison message → dead letter), drops an id already handled, runs the handler
under ``retries`` (a dependency outage is waited out with the partitions
paused; a bug gets a few attempts; each attempt has a timeout), dead-letters the
message when the payload is invalid, a domain rule refuses it, an unknown error
persists or its attempts time out too many times in a row, and only then lets
FastStream commit the offset. If even the dead-letter publish fails the error escapes, FastStream
does not commit, and the message comes back: nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from faststream import BaseMiddleware, StreamMessage
from faststream.message import AckStatus

from customer_agent_shared.events.envelope import EventParseError, loads_message_body, require_one_account
from customer_agent_shared.messaging.dead_letter import (
    FailedMessage,
    count_dead_letter,
    dead_letter_message,
)
from customer_agent_shared.messaging.dedup import ProcessedEventRegistry
from customer_agent_shared.messaging.failures import (
    PERMANENT_ERRORS,
    FailureKind,
    PermanentHandlerError,
    TransientHandlerError,
    classify,
)
from customer_agent_shared.messaging.offsets import OffsetCommitter
from customer_agent_shared.messaging.pausing import current_consumer
from customer_agent_shared.messaging.retries import BlockedConsumers, RetryPolicy, run_with_retries
from customer_agent_shared.observability.logging import log_context
from customer_agent_shared.observability.metrics import EVENT_HANDLING_SECONDS, EVENTS_CONSUMED
from customer_agent_shared.persistence.outbox import OutgoingMessage

__all__ = [
    "PERMANENT_ERRORS",
    "PermanentHandlerError",
    "ReliableConsumerConfig",
    "RetryPolicy",
    "TransientHandlerError",
    "dead_letter_record",
    "decode_json_body",
    "reliable_consumer_middleware",
]

logger = logging.getLogger(__name__)

DEFAULT_HANDLER_TIMEOUT_SECONDS = 60.0


@dataclass
class ReliableConsumerConfig:
    """What the middleware needs: who we are, where dead letters go, how to dedup, retry and time out."""

    service: str
    send_batch: Callable[[list[OutgoingMessage]], Awaitable[None]]
    registry: ProcessedEventRegistry | None = None
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    dedup_namespace: str | None = None
    """Who 'already handled' refers to: the consumer-group prefix (defaults to the service name)."""
    committer: OffsetCommitter | None = None
    """Commits offsets of finished messages in the background; None: FastStream commits each message."""
    handler_timeout_seconds: float = DEFAULT_HANDLER_TIMEOUT_SECONDS
    """An attempt (one handler call, or one batch transaction) running longer is cancelled: a transient failure."""
    dependencies_answer: Callable[[], Awaitable[bool]] | None = None
    """Whether every dependency answers now (the readiness checks): a timeout while one does not is an outage,
    never counted against the message."""
    blocked: BlockedConsumers = field(init=False)
    """The consumers now waiting for an unavailable dependency (for the gauge and ``/readyz``)."""

    def __post_init__(self) -> None:
        self.blocked = BlockedConsumers(self.service)


async def decode_json_body(message: StreamMessage[Any]) -> Any:
    """Decode a message body as JSON whatever its content-type header says.

    Async on purpose: FastStream runs a synchronous custom decoder in a worker thread,
    one thread hop per message.
    """
    return loads_message_body(message.body)


def _event_id(body: bytes) -> tuple[str | None, str | None, str | None]:
    """Best-effort (id, account, thread) for dedup and logs; raises EventParseError if unreadable."""
    parsed = loads_message_body(body)
    if not isinstance(parsed, dict):
        raise EventParseError("message body is not a JSON object")
    event_id = parsed.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventParseError("CloudEvent has no 'id'")
    data = parsed.get("data") if isinstance(parsed.get("data"), dict) else {}
    thread = data.get("thread_id") if isinstance(data, dict) else None
    account = parsed.get("accountid")
    require_one_account(account, data.get("account_id") if isinstance(data, dict) else None)
    return (
        event_id,
        account if isinstance(account, str) else None,
        thread if isinstance(thread, str) else None,
    )


def reliable_consumer_middleware(config: ReliableConsumerConfig) -> Callable[..., BaseMiddleware]:
    """Build the broker middleware factory for ``config``."""

    class ReliableConsumerMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
            # Retries waiting out an outage pause this consumer's partitions (``pausing``).
            token = current_consumer.set(getattr(msg, "consumer", None))
            try:
                if isinstance(msg.raw_message, tuple):
                    # A batch subscriber: its decoder and ``BatchConsumer`` dead-letter, retry and deduplicate
                    # each record; an error escaping here rewinds the whole batch (the inbox drops repeats).
                    result = await call_next(msg)
                else:
                    result = await self._consume_reliably(call_next, msg)
            finally:
                current_consumer.reset(token)
            # Reached only when the message is done (handled, duplicate or dead-lettered): an escaping
            # error skips this and FastStream rewinds to the message instead.
            await _mark_done(config, msg)
            return result

        async def _consume_reliably(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
            record = msg.raw_message
            topic: str = getattr(record, "topic", "unknown")
            consumer = f"{config.dedup_namespace or config.service}:{topic}"
            started = time.perf_counter()
            try:
                event_id, account_id, thread_id = _event_id(msg.body)
            except EventParseError as error:
                await dead_letter_record(config, msg.raw_message, error, attempts=1, topic=topic, value=msg.body)
                return None
            assert event_id is not None
            with log_context(event_id=event_id, account_id=account_id, thread_id=thread_id, topic=topic):
                if config.registry is not None and await config.registry.was_processed(consumer, event_id):
                    EVENTS_CONSUMED.labels(service=config.service, topic=topic, outcome="duplicate").inc()
                    logger.info("duplicate event dropped")
                    return None
                handled, result = await run_with_retries(
                    config,
                    topic,
                    lambda: call_next(msg),
                    lambda error, attempts: dead_letter_record(
                        config, msg.raw_message, error, attempts=attempts, topic=topic, value=msg.body
                    ),
                )
                if not handled:
                    return None
                if config.registry is not None:
                    await config.registry.mark_processed(consumer, event_id)
                EVENTS_CONSUMED.labels(service=config.service, topic=topic, outcome="handled").inc()
                EVENT_HANDLING_SECONDS.labels(service=config.service, topic=topic).observe(
                    time.perf_counter() - started
                )
                return result

    return ReliableConsumerMiddleware


async def _mark_done(config: ReliableConsumerConfig, msg: StreamMessage[Any]) -> None:
    """Hand the finished message's offset to the committer (FastStream then skips its own commit)."""
    consumer = getattr(msg, "consumer", None)
    if config.committer is None or consumer is None:
        return
    records = msg.raw_message if isinstance(msg.raw_message, tuple) else (msg.raw_message,)
    for record in records:
        await config.committer.handled(consumer, record.topic, record.partition, record.offset)
    msg.committed = AckStatus.ACKED


async def dead_letter_record(
    config: ReliableConsumerConfig,
    record: Any,
    error: BaseException,
    *,
    attempts: int,
    topic: str | None = None,
    value: bytes | None = None,
) -> None:
    """Publish a consumed Kafka record to ``<topic>.dlq`` with the error (raises if that publish fails)."""
    topic = topic or str(getattr(record, "topic", "unknown"))
    failed = FailedMessage(
        topic=topic,
        partition=int(getattr(record, "partition", -1)),
        offset=int(getattr(record, "offset", -1)),
        key=getattr(record, "key", None),
        value=value if value is not None else (getattr(record, "value", None) or b""),
        error_type=type(error).__name__,
        error=str(error) or repr(error),
        attempts=attempts,
        consumer=config.service,
    )
    # If this raises, the offset is not committed and the message is redelivered.
    await config.send_batch([dead_letter_message(failed)])
    reason = "invalid" if classify(error).kind is FailureKind.PERMANENT else "handler_failed"
    count_dead_letter(config.service, topic, reason)
    EVENTS_CONSUMED.labels(service=config.service, topic=topic, outcome="dead_lettered").inc()
    logger.warning(
        "message dead-lettered",
        extra={
            "dead_letter_topic": topic + ".dlq",
            "error_type": failed.error_type,
            "error": failed.error[:500],
        },
    )
