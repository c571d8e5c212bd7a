"""Pure rules of the reliable consumer: retry delays and dead-letter records."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.envelope import EventParseError, loads_message_body
from customer_agent_shared.messaging.dead_letter import FailedMessage, dead_letter_message
from customer_agent_shared.messaging.reliable import RetryPolicy
from customer_agent_shared.operations.dead_letters import pretty_body


def test_retry_delay_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, first_delay_seconds=0.2, max_delay_seconds=1.0)
    assert [policy.delay(n) for n in range(1, 6)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def test_dead_letter_keeps_the_original_bytes_and_says_why() -> None:
    failed = FailedMessage(
        topic="channels.inbound.v1",
        partition=3,
        offset=42,
        key=b"acc:t1",
        value=b"{bad",
        error_type="EventParseError",
        error="message body is not JSON" + "!" * 5000,
        attempts=1,
        consumer="routing",
    )
    record = dead_letter_message(failed)
    assert record.topic == "channels.inbound.v1.dlq"
    assert record.value == b"{bad"
    assert record.key == b"acc:t1"
    assert record.headers["dlq-original-offset"] == "42"
    assert record.headers["dlq-error"].startswith("message body is not JSON")
    assert len(record.headers["dlq-error"]) == 2000


def test_a_body_nesting_too_deep_is_a_poison_message_not_a_crash() -> None:
    too_deep = b'{"id": "deep", "data": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    with pytest.raises(EventParseError, match="nests too deep"):
        loads_message_body(too_deep)
    assert pretty_body(too_deep) == too_deep.decode()  # the dead-letter tool shows it as text
