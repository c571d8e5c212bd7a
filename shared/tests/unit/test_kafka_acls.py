"""The Kafka access table: who writes and reads each topic."""

from __future__ import annotations

from customer_agent_shared.kafka_acls import (
    CHANNEL_PROVIDER,
    HUMAN_INBOX,
    OPERATOR,
    PRODUCERS,
    AclRule,
    Principal,
    ServiceSubscriptions,
    access_table,
)
from customer_agent_shared.topics import (
    BILLING_COMMANDS,
    CHANNELS_INBOUND,
    CHANNELS_OUTBOUND,
    CONVERSATIONS_EVENTS,
    INBOX_EVENTS,
    INBOX_HANDOFFS,
    TOPICS,
    all_topic_names,
)

ROUTING = ServiceSubscriptions("routing", "routing", (CHANNELS_INBOUND, CONVERSATIONS_EVENTS))


def by_user(*services: ServiceSubscriptions) -> dict[str, Principal]:
    return {principal.user: principal for principal in access_table(list(services))}


def test_every_topic_of_the_registry_has_its_producers() -> None:
    assert set(PRODUCERS) == {spec.name for spec in TOPICS}
    assert all(PRODUCERS.values())


def test_channel_providers_reach_only_the_external_contract() -> None:
    provider = by_user(ROUTING)[CHANNEL_PROVIDER]
    assert set(provider.writes) == {CHANNELS_INBOUND, "content.events.v1"}
    assert set(provider.reads) == {CHANNELS_OUTBOUND, INBOX_HANDOFFS}
    assert BILLING_COMMANDS not in provider.writes
    assert CONVERSATIONS_EVENTS not in provider.reads
    # Its groups hold offsets only: they never name a topic.
    assert provider.group_prefix == "channel-provider."


def test_the_human_inbox_publishes_what_people_do_and_reads_the_handoffs_only() -> None:
    inbox = by_user(ROUTING)[HUMAN_INBOX]
    assert set(inbox.writes) == {INBOX_EVENTS}
    assert set(inbox.reads) == {INBOX_HANDOFFS}
    assert inbox.group_prefix == "human-inbox."


def test_a_service_reads_its_subscriptions_and_writes_what_it_publishes_and_their_dead_letters() -> None:
    routing = by_user(ROUTING)["routing"]
    assert set(routing.reads) == {CHANNELS_INBOUND, CONVERSATIONS_EVENTS}
    assert {CHANNELS_OUTBOUND, "inbox.handoffs.v1", "conversations.assigned.v1"} <= set(routing.writes)
    assert {f"{CHANNELS_INBOUND}.dlq", f"{CONVERSATIONS_EVENTS}.dlq"} <= set(routing.writes)
    assert BILLING_COMMANDS not in routing.writes
    assert AclRule("group", "routing.", "prefix", ("Read",)) in routing.rules()


def test_the_operator_replays_every_dead_letter_but_reads_no_live_topic() -> None:
    operator = by_user(ROUTING)[OPERATOR]
    assert set(operator.writes) == set(all_topic_names())
    assert all(topic.endswith(".dlq") for topic in operator.reads)


def test_rules_render_as_strimzi_acls() -> None:
    rule = AclRule("topic", CHANNELS_INBOUND, "literal", ("Write", "Describe"))
    assert rule.strimzi() == {
        "resource": {"type": "topic", "name": CHANNELS_INBOUND, "patternType": "literal"},
        "operations": ["Write", "Describe"],
    }
