"""The reliable-consumer middleware every subscriber runs under.

For each Kafka message it: reads the CloudEvent id (an unreadable message is a
poison message → dead letter), drops an id already handled, runs the handler
with bounded retries and backoff, dead-letters the message when the handler
keeps failing or the payload is invalid, and only then lets FastStream commit
the offset. If even the dead-letter publish fails the error escapes, FastStream
does not commit, and the message comes back: nothing is lost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from faststream import BaseMiddleware, StreamMessage
from faststream.message import AckStatus
from pydantic import ValidationError

from customer_agent_shared.events.envelope import EventParseError
from customer_agent_shared.messaging.dead_letter import (
    FailedMessage,
    count_dead_letter,
    dead_letter_message,
)
from customer_agent_shared.messaging.dedup import ProcessedEventRegistry
from customer_agent_shared.messaging.offsets import OffsetCommitter
from customer_agent_shared.observability.logging import log_context
from customer_agent_shared.observability.metrics import (
    EVENT_HANDLING_SECONDS,
    EVENT_RETRIES,
    EVENTS_CONSUMED,
)
from customer_agent_shared.persistence.outbox import OutgoingMessage

logger = logging.getLogger(__name__)

T = TypeVar("T")

NON_RETRYABLE_ERRORS: tuple[type[BaseException], ...] = (EventParseError, ValidationError, UnicodeDecodeError)


class PermanentHandlerError(Exception):
    """Raised by a handler for input that will never succeed: dead-letter it at once."""


PERMANENT_ERRORS: tuple[type[BaseException], ...] = (*NON_RETRYABLE_ERRORS, PermanentHandlerError)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with exponential backoff."""

    max_attempts: int = 4
    first_delay_seconds: float = 0.2
    max_delay_seconds: float = 5.0

    def delay(self, failed_attempt: int) -> float:
        """Delay before the next attempt after ``failed_attempt`` failures."""
        return float(min(self.max_delay_seconds, self.first_delay_seconds * (2 ** (failed_attempt - 1))))


@dataclass
class ReliableConsumerConfig:
    """What the middleware needs: who we are, where dead letters go, how to dedup."""

    service: str
    send_batch: Callable[[list[OutgoingMessage]], Awaitable[None]]
    registry: ProcessedEventRegistry | None = None
    retry: RetryPolicy = RetryPolicy()
    dedup_namespace: str | None = None
    """Who 'already handled' refers to: the consumer-group prefix (defaults to the service name)."""
    committer: OffsetCommitter | None = None
    """Commits offsets of finished messages in the background; None: FastStream commits each message."""


async def decode_json_body(message: StreamMessage[Any]) -> Any:
    """Decode a message body as JSON whatever its content-type header says.

    Async on purpose: FastStream runs a synchronous custom decoder in a worker thread,
    one thread hop per message.
    """
    try:
        return json.loads(message.body)
    except (ValueError, UnicodeDecodeError) as error:
        raise EventParseError(f"message body is not JSON: {error}") from error


def _event_id(body: bytes) -> tuple[str | None, str | None, str | None]:
    """Best-effort (id, account, thread) for dedup and logs; raises EventParseError if unreadable."""
    try:
        parsed = json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise EventParseError(f"message body is not JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise EventParseError("message body is not a JSON object")
    event_id = parsed.get("id")
    if not isinstance(event_id, str) or not event_id:
        raise EventParseError("CloudEvent has no 'id'")
    data = parsed.get("data") if isinstance(parsed.get("data"), dict) else {}
    thread = data.get("thread_id") if isinstance(data, dict) else None
    account = parsed.get("accountid")
    return (
        event_id,
        account if isinstance(account, str) else None,
        thread if isinstance(thread, str) else None,
    )


def reliable_consumer_middleware(config: ReliableConsumerConfig) -> Callable[..., BaseMiddleware]:
    """Build the broker middleware factory for ``config``."""

    class ReliableConsumerMiddleware(BaseMiddleware):
        async def consume_scope(self, call_next: Callable[[Any], Awaitable[Any]], msg: StreamMessage[Any]) -> Any:
            if isinstance(msg.raw_message, tuple):
                # A batch subscriber: its decoder and ``BatchConsumer`` dead-letter, retry and deduplicate
                # each record; an error escaping here rewinds the whole batch (the inbox drops repeats).
                result = await call_next(msg)
            else:
                result = await self._consume_reliably(call_next, msg)
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


async def run_with_retries(
    config: ReliableConsumerConfig,
    topic: str,
    attempt_once: Callable[[], Awaitable[T]],
    dead_letter: Callable[[BaseException, int], Awaitable[None]],
) -> tuple[bool, T | None]:
    """Run ``attempt_once`` with bounded retries; (False, None) once the input was dead-lettered instead."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return True, await attempt_once()
        except PERMANENT_ERRORS as error:
            await dead_letter(error, attempt)
            return False, None
        except Exception as error:
            if attempt >= config.retry.max_attempts:
                logger.exception("handler failed after retries; dead-lettering")
                await dead_letter(error, attempt)
                return False, None
            EVENT_RETRIES.labels(service=config.service, topic=topic).inc()
            logger.warning("handler failed; retrying", extra={"attempt": attempt, "error": repr(error)})
            await asyncio.sleep(config.retry.delay(attempt))


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
    reason = "invalid" if isinstance(error, PERMANENT_ERRORS) else "handler_failed"
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
