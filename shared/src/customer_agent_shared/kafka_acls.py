"""Who may do what on Kafka: which principals write and read each topic, turned into ACL rules.

The consumers of each service come from its AsyncAPI document (``deploy/k8s/generate.py`` reads them);
what no document shows is declared here: who produces each topic, and the readers outside the services'
subscriptions. ``deploy/k8s/generate.py`` renders the rules as Strimzi ``KafkaUser`` resources and as
``deploy/k8s/base/kafka/acls.tsv``, which ``deploy/local/kafka.sh`` applies to the local Kafka.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from customer_agent_shared.topics import (
    AGENT_CONFIG,
    AGENT_REPLAY,
    AGENT_REPLAY_RESULTS,
    AUDIT,
    BILLING_COMMANDS,
    BILLING_CREDIT_STATE,
    CHANNELS_INBOUND,
    CHANNELS_OUTBOUND,
    CONTENT_EVENTS,
    CONVERSATIONS_ASSIGNED,
    CONVERSATIONS_EVENTS,
    CONVERSATIONS_PREVIEW,
    CONVERSATIONS_PREVIEW_REPLIES,
    INBOX_EVENTS,
    INBOX_HANDOFFS,
    SOURCES_COMMANDS,
    SOURCES_STATUS,
    TOPICS,
    all_topic_names,
    dead_letter_topic,
)

CHANNEL_PROVIDER = "channel-provider"
"""The outside parties that connect channels and knowledge bases: visitors' messages in, replies out."""
HUMAN_INBOX = "human-inbox"
"""The human inbox or help desk: receives handoffs, publishes what people do with threads."""
OPERATOR = "operator"
"""Whoever runs ``customer-agent dlq``: reads every dead-letter topic, replays to its topic, audits."""

PRODUCERS: Mapping[str, tuple[str, ...]] = {
    # webchat is the repository's own live-chat provider: it publishes like any outside one.
    CHANNELS_INBOUND: (CHANNEL_PROVIDER, "webchat"),
    CHANNELS_OUTBOUND: ("routing", "conversation"),
    INBOX_HANDOFFS: ("routing",),
    INBOX_EVENTS: (HUMAN_INBOX,),
    CONVERSATIONS_ASSIGNED: ("routing",),
    CONVERSATIONS_EVENTS: ("routing", "conversation"),
    CONVERSATIONS_PREVIEW: ("admin-api",),
    CONVERSATIONS_PREVIEW_REPLIES: ("conversation", "routing"),
    AGENT_CONFIG: ("admin-api",),
    BILLING_CREDIT_STATE: ("billing",),
    BILLING_COMMANDS: ("admin-api",),
    SOURCES_COMMANDS: ("admin-api",),
    SOURCES_STATUS: ("ingestion",),
    CONTENT_EVENTS: (CHANNEL_PROVIDER,),
    AUDIT: ("admin-api",),
    AGENT_REPLAY: ("admin-api",),
    AGENT_REPLAY_RESULTS: ("conversation", "routing"),
}
"""Every topic of the registry and the principals that publish to it."""

OTHER_READERS: Mapping[str, tuple[str, ...]] = {
    CHANNELS_OUTBOUND: (CHANNEL_PROVIDER,),
    INBOX_HANDOFFS: (CHANNEL_PROVIDER, HUMAN_INBOX),
    # admin-api reads every preview reply in every replica, with no consumer group (not in its AsyncAPI).
    CONVERSATIONS_PREVIEW_REPLIES: ("admin-api",),
}
"""Readers that no service's AsyncAPI document shows."""

ResourceType = Literal["topic", "group"]
PatternType = Literal["literal", "prefix"]


@dataclass(frozen=True)
class ServiceSubscriptions:
    """A service as its AsyncAPI document shows it: consumer group prefix and subscribed topics."""

    name: str
    consumer_group: str
    subscriptions: tuple[str, ...]


@dataclass(frozen=True)
class AclRule:
    """Operations allowed on one resource (a topic, or consumer groups by name or prefix)."""

    resource_type: ResourceType
    name: str
    pattern: PatternType
    operations: tuple[str, ...]

    def strimzi(self) -> dict[str, Any]:
        """The rule as an entry of a Strimzi ``KafkaUser``'s ``spec.authorization.acls``."""
        return {
            "resource": {"type": self.resource_type, "name": self.name, "patternType": self.pattern},
            "operations": list(self.operations),
        }


@dataclass(frozen=True)
class Principal:
    """One SCRAM user and everything it may do (Kafka denies the rest)."""

    user: str
    writes: tuple[str, ...]
    reads: tuple[str, ...]
    group_prefix: str | None

    def rules(self) -> list[AclRule]:
        """Write or read each topic (both include Describe), and read its own consumer groups.

        Idempotent producers need no cluster right: since Kafka 3.0 Write on a topic implies it.
        No client of the code uses transactions, so no transactional id is granted.
        """
        rules = [AclRule("topic", topic, "literal", ("Write", "Describe")) for topic in self.writes]
        rules += [AclRule("topic", topic, "literal", ("Read", "Describe")) for topic in self.reads]
        if self.group_prefix is not None:
            rules.append(AclRule("group", self.group_prefix, "prefix", ("Read",)))
        return rules


def _holders(table: Mapping[str, tuple[str, ...]], user: str) -> set[str]:
    return {topic for topic, users in table.items() if user in users}


def access_table(services: Sequence[ServiceSubscriptions]) -> list[Principal]:
    """Every principal: one per service, the channel providers, the human inbox and the operator, by user."""
    principals = []
    for service in services:
        subscribed = set(service.subscriptions)
        # A consumer dead-letters what it cannot handle to <topic>.dlq.
        writes = _holders(PRODUCERS, service.name) | {dead_letter_topic(topic) for topic in subscribed}
        reads = subscribed | _holders(OTHER_READERS, service.name)
        principals.append(
            Principal(service.name, tuple(sorted(writes)), tuple(sorted(reads)), f"{service.consumer_group}.")
        )
    for outside in (CHANNEL_PROVIDER, HUMAN_INBOX):
        writes, reads = _holders(PRODUCERS, outside), _holders(OTHER_READERS, outside)
        # Groups hold no data; an outside party needs one to commit what it has read.
        principals.append(Principal(outside, tuple(sorted(writes)), tuple(sorted(reads)), f"{outside}."))
    # Replays go to the original topic, their markers to the .dlq, the audit entry to audit.v1.
    everything = tuple(sorted(all_topic_names()))
    principals.append(Principal(OPERATOR, everything, tuple(sorted(spec.dead_letter_topic for spec in TOPICS)), None))
    return sorted(principals, key=lambda principal: principal.user)
