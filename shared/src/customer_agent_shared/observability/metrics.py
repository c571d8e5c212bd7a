"""Metrics of the shared plumbing; services add their own next to their code.

Label values are bounded: topics, consumer groups, outcomes and schemas — never
account, thread or event ids.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_CONSUMED = Counter(
    "customer_agent_events_consumed_total",
    "Events taken from Kafka by outcome (handled, duplicate, dead_lettered, failed).",
    ["service", "topic", "outcome"],
)
EVENT_HANDLING_SECONDS = Histogram(
    "customer_agent_event_handling_seconds",
    "Time to handle one event, retries included.",
    ["service", "topic"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENT_RETRIES = Counter(
    "customer_agent_event_retries_total",
    "Handler attempts that failed for an unknown reason (a bug?) and were retried; the 4th such failure "
    "dead-letters the message.",
    ["service", "topic"],
)
TRANSIENT_RETRIES = Counter(
    "customer_agent_transient_retries_total",
    "Handler attempts that failed because a dependency was unavailable (kind: postgres, opensearch, redis, "
    "kafka, http, timeout, connection, handler, handler_timeout, dependency_unresponsive: a timeout while a "
    "readiness check failed); retried until it is back, except that 10 attempts in a row cut off by the "
    "handler timeout (handler_timeout) while every dependency answered dead-letter the message.",
    ["service", "topic", "kind"],
)
CONSUMERS_BLOCKED = Gauge(
    "customer_agent_consumers_blocked",
    "Consumers now retrying a message because a dependency is unavailable (their partitions are paused).",
    ["service", "topic"],
)
DEAD_LETTERS = Counter(
    "customer_agent_dead_letters_total",
    "Messages sent to a dead-letter topic (reason invalid: unparseable, against the contract or refused by a "
    "domain rule; handler_failed: an unknown error 4 times, or 10 handler timeouts in a row).",
    ["service", "topic", "reason"],
)
EVENTS_PUBLISHED = Counter(
    "customer_agent_events_published_total",
    "Events published to Kafka.",
    ["service", "topic"],
)
OUTBOX_PENDING = Gauge(
    "customer_agent_outbox_pending",
    "Unpublished outbox rows seen by the relay's last pass (capped at its batch size).",
    ["schema"],
)
OUTBOX_PUBLISHED = Counter(
    "customer_agent_outbox_published_total",
    "Outbox rows published by the relay.",
    ["schema"],
)
SERVICE_READY = Gauge(
    "customer_agent_service_ready",
    "1 when the service's readiness checks pass.",
    ["service"],
)
DEPENDENCY_UP = Gauge(
    "customer_agent_dependency_up",
    "1 when the dependency answered the last readiness check.",
    ["service", "dependency"],
)
OFFSET_COMMITS = Counter(
    "customer_agent_offset_commits_total",
    "Deferred Kafka offset commits by outcome (committed, failed: redelivered and deduplicated).",
    ["service", "outcome"],
)
CONSUMER_BATCHES = Counter(
    "customer_agent_consumer_batches_total",
    "Fetched batches handled in one transaction (committed) or, after an error, one message at a time (split).",
    ["service", "topic", "outcome"],
)
CONSUMER_BATCH_SIZE = Histogram(
    "customer_agent_consumer_batch_size",
    "Events per fetched batch of a batch subscriber.",
    ["service", "topic"],
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500),
)
OUTBOX_DEAD_ROWS = Counter(
    "customer_agent_outbox_dead_rows_total",
    "Outbox rows Kafka refused for good, moved to outbox_dead, by the error's class.",
    ["schema", "reason"],
)
RETENTION_DELETED_ROWS = Counter(
    "customer_agent_retention_deleted_rows_total",
    "Rows of a service's own tables deleted past their retention (the inbox drops whole day partitions instead).",
    ["service", "table"],
)
