"""The topic registry: every Kafka topic of the system, its partitions and retention.

This is the single source of truth for topic names. The local stack creates
topics from it (``python -m customer_agent_shared.topics ensure``) and the
Kubernetes ``KafkaTopic`` manifests are generated from it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from customer_agent_shared.settings import KafkaSecuritySettings

DEAD_LETTER_SUFFIX = ".dlq"


class PartitionClass(StrEnum):
    """How a topic's partition count is chosen."""

    CHANNEL = "channel"  # keyed per thread: scales with KAFKA_TOPIC_PARTITIONS
    ACCOUNT = "account"  # keyed per account: modest traffic
    SINGLE = "single"  # low-volume control traffic


@dataclass(frozen=True)
class TopicSpec:
    """One topic: its name, how it is keyed, and whether it is compacted."""

    name: str
    description: str
    key: str
    partition_class: PartitionClass = PartitionClass.ACCOUNT
    compacted: bool = False
    event_types: tuple[str, ...] = field(default_factory=tuple)
    max_message_bytes: int = 1_048_576

    @property
    def dead_letter_topic(self) -> str:
        """Name of the topic that receives this topic's poison messages."""
        return self.name + DEAD_LETTER_SUFFIX

    def partitions(self, channel_partitions: int) -> int:
        """Partition count for this topic given the configured channel partitions."""
        if self.partition_class is PartitionClass.CHANNEL:
            return channel_partitions
        if self.partition_class is PartitionClass.ACCOUNT:
            return 3
        return 1

    def config(self) -> dict[str, str]:
        """Kafka topic-level configuration."""
        size = {"max.message.bytes": str(self.max_message_bytes)}
        if self.compacted:
            return {
                "cleanup.policy": "compact",
                "min.cleanable.dirty.ratio": "0.1",
                "segment.ms": "3600000",
                **size,
            }
        return {"cleanup.policy": "delete", "retention.ms": str(7 * 24 * 3600 * 1000), **size}


LARGE_MESSAGE_BYTES = 33_554_432

CHANNELS_INBOUND = "channels.inbound.v1"
CHANNELS_OUTBOUND = "channels.outbound.v1"
INBOX_HANDOFFS = "inbox.handoffs.v1"
INBOX_EVENTS = "inbox.events.v1"
CONVERSATIONS_ASSIGNED = "conversations.assigned.v1"
CONVERSATIONS_EVENTS = "conversations.events.v1"
CONVERSATIONS_PREVIEW = "conversations.preview.v1"
CONVERSATIONS_PREVIEW_REPLIES = "conversations.preview-replies.v1"
AGENT_CONFIG = "agent.config.v1"
BILLING_CREDIT_STATE = "billing.credit-state.v1"
BILLING_COMMANDS = "billing.commands.v1"
SOURCES_COMMANDS = "sources.commands.v1"
SOURCES_STATUS = "sources.status.v1"
CONTENT_EVENTS = "content.events.v1"
AUDIT = "audit.v1"
AGENT_REPLAY = "agent.replay.v1"
AGENT_REPLAY_RESULTS = "agent.replay-results.v1"

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        CHANNELS_INBOUND,
        "Messages from visitors, published by channel providers (external contract).",
        key="{account_id}:{thread_id}",
        partition_class=PartitionClass.CHANNEL,
        event_types=("message.received",),
    ),
    TopicSpec(
        CHANNELS_OUTBOUND,
        "Messages to visitors: answers, rephrase requests, handoff and availability notices.",
        key="{account_id}:{thread_id}",
        partition_class=PartitionClass.CHANNEL,
        event_types=("message.send",),
    ),
    TopicSpec(
        INBOX_HANDOFFS,
        "Threads handed to humans or to the unassigned view, with transcript.",
        key="{account_id}:{thread_id}",
        partition_class=PartitionClass.CHANNEL,
        event_types=("thread.handed_off", "message.forwarded"),
    ),
    TopicSpec(
        INBOX_EVENTS,
        "What people did in the human inbox: threads closed, reassigned or returned to the agent, "
        "and users' presence (external contract; key {account_id}:{user_id} for user.availability).",
        key="{account_id}:{thread_id}",
        partition_class=PartitionClass.CHANNEL,
        event_types=("thread.closed", "thread.reassigned", "thread.returned", "user.availability"),
    ),
    TopicSpec(
        CONVERSATIONS_ASSIGNED,
        "Inbound messages routing assigned to the AI agent.",
        key="{account_id}:{thread_id}",
        partition_class=PartitionClass.CHANNEL,
        event_types=("conversation.assigned",),
    ),
    TopicSpec(
        CONVERSATIONS_EVENTS,
        "What happened in a conversation: answered, cannot_answer, handoff_requested, "
        "handed_off (routing, with its reason), resolved, feedback, knowledge_gap; and, internal to "
        "conversation and admin-api, knowledge_gap_drafted (the LLM's answer for a gap).",
        key="{account_id}:{thread_id}",
        partition_class=PartitionClass.CHANNEL,
        event_types=(
            "conversation.answered",
            "conversation.cannot_answer",
            "conversation.handoff_requested",
            "conversation.handed_off",
            "conversation.resolved",
            "conversation.feedback",
            "conversation.knowledge_gap",
            "conversation.knowledge_gap_drafted",
        ),
    ),
    TopicSpec(
        CONVERSATIONS_PREVIEW,
        "Preview questions from admin-api (request side of request/reply).",
        key="{account_id}",
        event_types=("preview.requested",),
    ),
    TopicSpec(
        CONVERSATIONS_PREVIEW_REPLIES,
        "Preview answers from conversation (reply side, matched by correlation id).",
        key="{account_id}",
        event_types=("preview.answered",),
    ),
    TopicSpec(
        AGENT_CONFIG,
        "The account's full agent configuration snapshot (compacted: latest per account).",
        key="{account_id}",
        compacted=True,
        event_types=("agent.config.snapshot",),
    ),
    TopicSpec(
        BILLING_CREDIT_STATE,
        "The account's credit state (compacted): balance, exhausted/restored transitions.",
        key="{account_id}",
        compacted=True,
        event_types=("credits.state", "credits.exhausted", "credits.restored"),
    ),
    TopicSpec(
        BILLING_COMMANDS,
        "Commands to billing: purchases, plan changes, adjustments, opening a new account's credits.",
        key="{account_id}",
        event_types=("credits.purchase", "credits.plan_set", "credits.adjust", "credits.plan_change", "credits.open"),
    ),
    TopicSpec(
        SOURCES_COMMANDS,
        "Commands to ingestion: sync, resync, delete, update a content source.",
        key="{account_id}:{source_id}",
        event_types=("source.sync", "source.delete", "source.update"),
        # Uploads travel as a reference (docs/adr/0006); older commands carried the file inline (base64),
        # so the topic still takes large messages for them to be replayed.
        max_message_bytes=LARGE_MESSAGE_BYTES,
    ),
    TopicSpec(
        SOURCES_STATUS,
        "Ingestion progress and state of each content source.",
        key="{account_id}:{source_id}",
        event_types=("source.status",),
    ),
    TopicSpec(
        CONTENT_EVENTS,
        "Knowledge-base articles announced by an external knowledge base.",
        key="{account_id}:{article_id}",
        event_types=("article.published", "article.updated", "article.deleted"),
    ),
    TopicSpec(
        AUDIT,
        "Append-only audit trail of every configuration change.",
        key="{account_id}",
        event_types=("audit.recorded",),
    ),
    TopicSpec(
        AGENT_REPLAY,
        "Draft replays from admin-api: to conversation (replay the recent questions) and to routing "
        "(judge the replayed questions); each reads its own type.",
        key="{account_id}",
        event_types=("replay.requested", "replay.routing_requested"),
        # Up to 500 questions travel in one request, each up to 20,000 characters.
        max_message_bytes=LARGE_MESSAGE_BYTES,
    ),
    TopicSpec(
        AGENT_REPLAY_RESULTS,
        "Draft replay results for admin-api: conversation's verdicts, then routing's.",
        key="{account_id}",
        event_types=("replay.answered", "replay.routed"),
        max_message_bytes=LARGE_MESSAGE_BYTES,
    ),
)

TOPICS_BY_NAME: dict[str, TopicSpec] = {spec.name: spec for spec in TOPICS}


def dead_letter_topic(topic: str) -> str:
    """Return the dead-letter topic for a topic name."""
    return topic + DEAD_LETTER_SUFFIX


def all_topic_names() -> list[str]:
    """Every topic and its dead-letter topic."""
    names: list[str] = []
    for spec in TOPICS:
        names.extend((spec.name, spec.dead_letter_topic))
    return names


async def ensure_topics(
    bootstrap_servers: str, channel_partitions: int, *, security: KafkaSecuritySettings | None = None
) -> list[str]:
    """Create every missing topic and dead-letter topic; return the names created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from customer_agent_shared.messaging.security import kafka_client_options

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="topic-registry", **kafka_client_options(security)
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted: list[NewTopic] = []
        for spec in TOPICS:
            if spec.name not in existing:
                wanted.append(
                    NewTopic(
                        spec.name,
                        num_partitions=spec.partitions(channel_partitions),
                        replication_factor=1,
                        topic_configs=spec.config(),
                    )
                )
            if spec.dead_letter_topic not in existing:
                wanted.append(
                    NewTopic(
                        spec.dead_letter_topic,
                        num_partitions=1,
                        replication_factor=1,
                        topic_configs={
                            "cleanup.policy": "delete",
                            "retention.ms": str(30 * 86400000),
                            "max.message.bytes": str(spec.max_message_bytes),
                        },
                    )
                )
        if wanted:
            await admin.create_topics(wanted)
        return [topic.name for topic in wanted]
    finally:
        await admin.close()


def main(argv: list[str] | None = None) -> int:
    """Command line: ``ensure`` creates missing topics, ``list`` prints the registry as JSON."""
    from customer_agent_shared.settings import InfrastructureSettings

    parser = argparse.ArgumentParser(prog="python -m customer_agent_shared.topics")
    parser.add_argument("command", choices=["ensure", "list"])
    args = parser.parse_args(argv)
    settings = InfrastructureSettings()
    if args.command == "list":
        rows = [
            {
                "name": spec.name,
                "partitions": spec.partitions(settings.topic_partitions),
                "compacted": spec.compacted,
                "key": spec.key,
                "dead_letter_topic": spec.dead_letter_topic,
                "description": spec.description,
            }
            for spec in TOPICS
        ]
        json.dump(rows, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return 0
    created = asyncio.run(ensure_topics(settings.kafka_bootstrap_servers, settings.topic_partitions, security=settings))
    print(f"topics: {len(all_topic_names())} in registry, {len(created)} created")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
