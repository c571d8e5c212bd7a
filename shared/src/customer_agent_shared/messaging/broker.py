"""FastStream Kafka broker with safe defaults.

FastStream's default acknowledgement policy commits before handling
(at-most-once). Here offsets are committed only after the handler (or the
dead-letter publish) finished; an escaping error rewinds to the message.
Producers wait for all in-sync replicas and are idempotent.
"""

from __future__ import annotations

import logging
from typing import Any

from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from customer_agent_shared.messaging.reliable import (
    ReliableConsumerConfig,
    reliable_consumer_middleware,
)
from customer_agent_shared.messaging.security import faststream_security
from customer_agent_shared.settings import KafkaSecuritySettings
from customer_agent_shared.topics import LARGE_MESSAGE_BYTES


def create_kafka_broker(
    bootstrap_servers: str,
    *,
    service: str,
    reliable: ReliableConsumerConfig | None = None,
    graceful_timeout_seconds: float = 20.0,
    security: KafkaSecuritySettings | None = None,
    **extra: Any,
) -> KafkaBroker:
    """A broker for one service (PLAINTEXT unless ``security`` says otherwise); subscribers commit after handling."""
    middlewares = (reliable_consumer_middleware(reliable),) if reliable is not None else ()
    kafka_logger = logging.getLogger(f"{service}.kafka")
    if not any(isinstance(existing, _ExpectedTopicWarnings) for existing in kafka_logger.filters):
        kafka_logger.addFilter(_ExpectedTopicWarnings())
    return KafkaBroker(
        bootstrap_servers,
        client_id=service,
        acks="all",
        enable_idempotence=True,
        max_request_size=LARGE_MESSAGE_BYTES,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        graceful_timeout=graceful_timeout_seconds,
        middlewares=middlewares,
        logger=kafka_logger,
        # FastStream's per-message "Received"/"Processed" lines cost CPU on every message; they
        # appear at DEBUG. Handlers log what they decided, with event and thread ids.
        log_level=logging.DEBUG,
        security=faststream_security(security),
        # Topics come from the registry (`topics ensure`, Strimzi KafkaTopics) with their partitions and
        # configs; a service has no right to create any, so its subscribers must not try at start-up.
        allow_auto_create_topics=False,
        **extra,
    )


class _ExpectedTopicWarnings(logging.Filter):
    """Drops FastStream's warning, once per subscriber at every start, that topic creation is off: it is off
    on purpose (below), and a warning at every start teaches ops to ignore warnings."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Auto create topics is disabled")


SUBSCRIBER_DEFAULTS: dict[str, Any] = {
    "auto_offset_reset": "earliest",
    "max_partition_fetch_bytes": LARGE_MESSAGE_BYTES,
    "fetch_max_bytes": LARGE_MESSAGE_BYTES * 2,
}
"""Keyword arguments every subscriber should use: a new group starts from the beginning."""


def subscriber_options(offset_reset: str = "earliest") -> dict[str, Any]:
    """Subscriber keyword arguments; tests pass 'latest' to skip history left by earlier runs."""
    return {**SUBSCRIBER_DEFAULTS, "auto_offset_reset": offset_reset}
