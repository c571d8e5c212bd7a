"""What the outbox relay does with a row Kafka did not take: retry it, or move it to ``outbox_dead``.

Only refusals known to be about the row itself are permanent: the record is over the topic's
size limit, malformed or cannot be built, or its topic is invalid or has stayed missing past a
grace period. Everything else (broker unreachable, timeouts, leadership changes, a lost producer
state, authorization) is transient: the relay backs off and sends the row again, never drops it.
An error not known to be the row's is treated as transient on purpose: a wedged outbox is loud
(backlog alert) and heals once fixed, a row wrongly set aside would be silent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka.errors import (
    CorruptRecordException,
    InvalidTimestampError,
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    UnknownTopicOrPartitionError,
    UnsupportedForMessageFormatError,
)

RECORD_REFUSALS: tuple[type[BaseException], ...] = (
    MessageSizeTooLargeError,
    RecordTooLargeError,
    RecordListTooLargeError,
    CorruptRecordException,
    InvalidTimestampError,
    UnsupportedForMessageFormatError,
)
"""The broker or the client refused this record for what it is; sending it again cannot help."""

TOPIC_REFUSALS: tuple[type[BaseException], ...] = (InvalidTopicError, UnknownTopicOrPartitionError)
"""Every record of the topic is refused alike (a missing topic only once the grace has passed)."""


def refusal_reason(error: BaseException, *, missing_for_seconds: float, grace_seconds: float) -> str | None:
    """Why the row can never be sent (stored with the dead row), or None when the failure is transient.

    ``missing_for_seconds``: how long sends to the row's topic have found it missing (a topic created
    by a deployment step may appear a little after the first event for it).
    """
    if isinstance(error, UnknownTopicOrPartitionError):
        if missing_for_seconds < grace_seconds:
            return None
        return f"UnknownTopicOrPartitionError: the topic stayed missing for {missing_for_seconds:.0f} s"
    if isinstance(error, RECORD_REFUSALS + TOPIC_REFUSALS):
        return f"{type(error).__name__}: {error}"[:1000]
    return None


@dataclass
class Settlement:
    """What one relay pass does with the rows it sent: mark, set aside, send alone, or retry."""

    sent: list[int] = field(default_factory=list)
    dead: dict[int, str] = field(default_factory=dict)
    """Row id -> reason: moved to ``outbox_dead``."""
    alone: list[int] = field(default_factory=list)
    """Rows refused for what they are together with other rows of their topic: which one is at fault is
    unknown (a producer batch fails whole), so each is sent again on its own before any is set aside."""
    transient: BaseException | None = None
    """The first transient failure: the rows it hit stay pending and the pass is retried after a backoff."""

    def absorb(self, other: Settlement) -> None:
        """Take in the settlement of the rows sent alone."""
        self.sent.extend(other.sent)
        self.dead.update(other.dead)
        self.transient = self.transient or other.transient


def settle(
    rows: Sequence[tuple[int, str]],
    errors: Sequence[BaseException | None],
    reason_of: Callable[[str, BaseException], str | None],
    *,
    sent_alone: bool = False,
) -> Settlement:
    """Sort rows ``(id, topic)`` by the outcome of their send (``errors`` in the same order, None: sent);
    ``reason_of(topic, error)`` tells a permanent refusal (its reason) from a transient failure (None)."""
    record_refusals = Counter(
        topic for (_, topic), error in zip(rows, errors, strict=True) if isinstance(error, RECORD_REFUSALS)
    )
    settlement = Settlement()
    for (row_id, topic), error in zip(rows, errors, strict=True):
        reason = None if error is None else reason_of(topic, error)
        if error is None:
            settlement.sent.append(row_id)
        elif reason is None:
            settlement.transient = settlement.transient or error
        elif isinstance(error, RECORD_REFUSALS) and record_refusals[topic] > 1 and not sent_alone:
            settlement.alone.append(row_id)
        else:
            settlement.dead[row_id] = reason
    return settlement
