"""Dead letters: a message that cannot be parsed or handled goes to ``<topic>.dlq``.

The original bytes and key are kept unchanged so the message can be replayed;
the error travels in headers a person can read.
"""

from __future__ import annotations

from dataclasses import dataclass

from customer_agent_shared.observability.metrics import DEAD_LETTERS
from customer_agent_shared.persistence.outbox import OutgoingMessage
from customer_agent_shared.topics import dead_letter_topic

MAX_ERROR_HEADER_CHARS = 2000


@dataclass(frozen=True)
class FailedMessage:
    """Where a poison message came from and why it failed."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    error_type: str
    error: str
    attempts: int
    consumer: str


def dead_letter_message(failed: FailedMessage) -> OutgoingMessage:
    """Build the dead-letter record for a failed message."""
    return OutgoingMessage(
        topic=dead_letter_topic(failed.topic),
        key=failed.key,
        value=failed.value,
        headers={
            "dlq-original-topic": failed.topic,
            "dlq-original-partition": str(failed.partition),
            "dlq-original-offset": str(failed.offset),
            "dlq-consumer": failed.consumer,
            "dlq-error-type": failed.error_type,
            "dlq-error": failed.error[:MAX_ERROR_HEADER_CHARS],
            "dlq-attempts": str(failed.attempts),
        },
    )


def count_dead_letter(service: str, topic: str, reason: str) -> None:
    """Record a dead letter in the metrics."""
    DEAD_LETTERS.labels(service=service, topic=topic, reason=reason).inc()
