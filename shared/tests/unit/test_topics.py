"""The topic registry matches DESIGN.md, plus the topics docs/architecture.md adds."""

from __future__ import annotations

from customer_agent_shared.topics import TOPICS, TOPICS_BY_NAME, all_topic_names

DESIGN_TOPICS = {
    "channels.inbound.v1",
    "channels.outbound.v1",
    "inbox.handoffs.v1",
    "inbox.events.v1",
    "conversations.assigned.v1",
    "conversations.events.v1",
    "conversations.preview.v1",
    "conversations.preview-replies.v1",
    "agent.config.v1",
    "billing.credit-state.v1",
    "billing.commands.v1",
    "sources.commands.v1",
    "sources.status.v1",
    "content.events.v1",
    "audit.v1",
}
ADDED_TOPICS = {"agent.replay.v1", "agent.replay-results.v1"}  # draft replays (docs/architecture.md)


def test_registry_holds_every_design_topic_and_its_dead_letter_topic() -> None:
    assert set(TOPICS_BY_NAME) == DESIGN_TOPICS | ADDED_TOPICS
    assert set(all_topic_names()) == (DESIGN_TOPICS | ADDED_TOPICS) | {
        name + ".dlq" for name in DESIGN_TOPICS | ADDED_TOPICS
    }


def test_only_the_state_topics_are_compacted() -> None:
    assert {spec.name for spec in TOPICS if spec.compacted} == {"agent.config.v1", "billing.credit-state.v1"}
    assert TOPICS_BY_NAME["agent.config.v1"].config()["cleanup.policy"] == "compact"


def test_channel_topics_follow_the_configured_partition_count() -> None:
    assert TOPICS_BY_NAME["channels.inbound.v1"].partitions(6) == 6
    assert TOPICS_BY_NAME["channels.inbound.v1"].partitions(12) == 12
    assert TOPICS_BY_NAME["inbox.events.v1"].partitions(12) == 12
    assert TOPICS_BY_NAME["audit.v1"].partitions(12) == 3


def test_every_topic_is_described_and_keyed() -> None:
    for spec in TOPICS:
        assert spec.description, spec.name
        assert spec.key, spec.name
        assert spec.event_types, spec.name
