"""The outbox relay's pure decisions: which refusals are permanent, what a pass does with each row, and
which inbox partitions exist or go."""

from __future__ import annotations

from datetime import UTC, date, datetime

from aiokafka.errors import (
    CorruptRecordException,
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    TopicAuthorizationFailedError,
    UnknownTopicOrPartitionError,
)
from customer_agent_shared.persistence.outbox_failures import refusal_reason, settle
from customer_agent_shared.persistence.partitions import (
    create_partition_sql,
    days_to_prepare,
    expired_partitions,
    partition_day,
    partition_name,
)


def reason(error: BaseException, missing_for: float = 0.0) -> str | None:
    return refusal_reason(error, missing_for_seconds=missing_for, grace_seconds=60.0)


def test_a_record_the_broker_refuses_for_what_it_is_is_permanent() -> None:
    assert (reason(MessageSizeTooLargeError()) or "").startswith("MessageSizeTooLargeError")
    assert (reason(CorruptRecordException()) or "").startswith("CorruptRecordException")


def test_an_outage_a_timeout_or_a_lost_producer_state_is_transient() -> None:
    for error in (
        KafkaConnectionError(),
        KafkaTimeoutError(),  # not "retriable" in aiokafka, yet only a wait
        NotLeaderForPartitionError(),
        OutOfOrderSequenceNumber(),
        TopicAuthorizationFailedError(),  # an ACL to fix, not a row to set aside
        RuntimeError("something else"),
        TypeError("key must be bytes"),  # a bug of ours: loud (the backlog grows), never silently set aside
        ValueError("bad header"),
    ):
        assert reason(error) is None, error


def test_a_missing_topic_is_transient_until_the_grace_has_passed() -> None:
    assert reason(UnknownTopicOrPartitionError(), missing_for=59.0) is None
    assert (reason(UnknownTopicOrPartitionError(), missing_for=60.0) or "").startswith("UnknownTopicOrPartitionError")


def by_reason(_topic: str, error: BaseException) -> str | None:
    return reason(error)


def test_a_pass_sets_aside_the_refused_row_and_marks_the_rows_behind_it_sent() -> None:
    rows = [(1, "t"), (2, "t"), (3, "t")]
    settlement = settle(rows, [None, MessageSizeTooLargeError(), None], by_reason)
    assert settlement.sent == [1, 3]
    assert list(settlement.dead) == [2]
    assert settlement.alone == []
    assert settlement.transient is None


def test_rows_of_a_topic_refused_together_are_sent_alone_before_any_is_set_aside() -> None:
    rows = [(1, "t"), (2, "t"), (3, "other")]
    errors: list[BaseException | None] = [MessageSizeTooLargeError(), MessageSizeTooLargeError(), None]
    assert settle(rows, errors, by_reason).alone == [1, 2]
    alone = settle(rows[:2], errors[:2], by_reason, sent_alone=True)
    assert sorted(alone.dead) == [1, 2]
    assert alone.alone == []


def test_a_transient_failure_keeps_its_rows_pending_and_the_others_are_still_settled() -> None:
    timeout = KafkaTimeoutError()
    settlement = settle([(1, "a"), (2, "b"), (3, "b")], [None, timeout, MessageSizeTooLargeError()], by_reason)
    assert settlement.sent == [1]
    assert list(settlement.dead) == [3]
    assert settlement.transient is timeout


def test_partitions_cover_today_and_the_coming_days_and_expire_whole_days_past_the_retention() -> None:
    today = date(2026, 12, 1)
    assert days_to_prepare(today, ahead=2) == [date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3)]
    names = [partition_name(date(2026, 11, day)) for day in range(14, 20)] + ["processed_events_default"]
    now = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)  # cutoff at 14 days: 2026-11-17 06:00
    # The 16th ended before the cutoff; the 17th still holds claims younger than it.
    assert expired_partitions(names, now=now, retention_days=14) == [
        "processed_events_p20261114",
        "processed_events_p20261115",
        "processed_events_p20261116",
    ]
    assert partition_day("processed_events_p20261114") == date(2026, 11, 14)
    assert partition_day("processed_events_default") is None
    sql = create_partition_sql("conversation", date(2026, 11, 30))
    assert "FROM ('2026-11-30T00:00:00+00:00') TO ('2026-12-01T00:00:00+00:00')" in sql
