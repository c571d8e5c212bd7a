"""Performance and knowledge gaps folded from conversation events; resolving a gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_agent_shared.embeddings import BuiltinEmbedder
from customer_agent_shared.events.channels import Assignee, ChannelRef, ChannelType, Citation, HandoffReason
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.events.inbox import THREAD_REASSIGNED, ThreadReassigned
from customer_agent_shared.testing.kafka import produce_raw
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CONVERSATIONS_EVENTS, INBOX_EVENTS, SOURCES_COMMANDS

from .harness import Account, Harness, audit_trail, events_for, get_until, read_from, topic_ends

pytestmark = pytest.mark.integration

PAYMENT = Citation(title="Payment", url="https://help.example.com/payment")
DRAFT = "We accept cards and MobilePay."


async def test_performance_and_knowledge_gaps(harness: Harness) -> None:
    account, now = await harness.new_account(), datetime.now(UTC)
    published = conversation_events(account.id, now)
    for item in published:
        await produce_raw(
            harness.settings.kafka_bootstrap_servers,
            CONVERSATIONS_EVENTS,
            serialize_event(item),
            key=f"{account.id}:{item.data.thread_id}".encode(),
        )
    # The figures checked below hold only once every event is folded, not as soon as each thread is counted.
    await eventually(lambda: harness.handled(*(item.id for item in published)), "admin-api folded every event")
    gaps = await gaps_grouped_by_meaning(harness, account)
    await check_performance(harness, account, now)
    await check_resolving_and_dismissing(harness, account, gaps)


async def test_a_thread_the_inbox_took_from_the_agent_is_not_resolved_by_it(harness: Harness) -> None:
    account, now = await harness.new_account(), datetime.now(UTC)
    servers = harness.settings.kafka_bootstrap_servers
    published: list[str] = []

    async def publish(topic: str, thread: str, event: CloudEvent[Any]) -> None:
        await produce_raw(servers, topic, serialize_event(event), key=f"{account.id}:{thread}".encode())
        published.append(event.id)

    def said(kind: str, thread: str, at: datetime) -> CloudEvent[ConversationEvent]:
        data = ConversationEvent(account_id=account.id, thread_id=thread, occurred_at=at, answer="Yes.")
        return make_event(f"conversation.{kind}", data, source="conversation-test", account_id=account.id)

    for thread in ("taken", "kept"):
        await publish(CONVERSATIONS_EVENTS, thread, said("answered", thread, now - timedelta(hours=2)))
    taken = ThreadReassigned(account_id=account.id, thread_id="taken", assignee=Assignee(kind="user", id="ada"))
    inbox_time = now - timedelta(hours=1)
    await publish(
        INBOX_EVENTS,
        "taken",
        make_event(THREAD_REASSIGNED, taken, source="inbox", account_id=account.id, time=inbox_time),
    )
    for thread in ("taken", "kept"):  # conversation never heard of the person: it resolves both when quiet
        await publish(CONVERSATIONS_EVENTS, thread, said("resolved", thread, now))
    await eventually(lambda: harness.handled(*published), "admin-api folded every event")

    performance = await get_until(harness, account, "/performance", lambda body: body["conversations"] == 2)
    assert (performance["resolved"], performance["handoffs"]) == (1, 0)


def conversation_events(account_id: str, now: datetime) -> list[CloudEvent[ConversationEvent]]:
    """Five threads' events as conversation (and, for handed_off, routing) publish them, and a preview's."""
    batch: list[CloudEvent[ConversationEvent]] = []

    def event(kind: str, thread: str, **fields: Any) -> None:
        data = ConversationEvent(
            account_id=account_id,
            thread_id=thread,
            channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
            occurred_at=fields.pop("at", now),
            **fields,
        )
        batch.append(make_event(f"conversation.{kind}", data, source="conversation-test", account_id=account_id))

    # Questions' vectors as conversation sends them with a gap (its built-in model).
    embedder = BuiltinEmbedder()
    embedder.load()
    english, danish, iceland = (
        [round(value, 4) for value in vector]
        for vector in embedder.embed_queries_now(
            ["Can I pay with MobilePay?", "Kan jeg betale med MobilePay?", "Do you ship to Iceland?"]
        )
    )
    vectors = {"embedding_model": embedder.model_id}
    event("answered", "t1", question="How do I reset my password?", answer="Click 'forgot'.")
    event("resolved", "t1")
    event("cannot_answer", "t2", question="Can I pay with MobilePay?")
    event(
        "knowledge_gap",
        "t2",
        question="Can I pay with MobilePay?",
        nearest_content=[PAYMENT],
        language="en",
        recommended_answer=DRAFT,
        question_embedding=english,
        **vectors,
    )
    event("handoff_requested", "t2", reason=HandoffReason.CANNOT_ANSWER)  # conversation asks routing
    event("handed_off", "t2", reason=HandoffReason.CANNOT_ANSWER)  # routing hands off
    event(
        "knowledge_gap",
        "t3",
        question="Kan jeg betale med MobilePay?",
        language="da",
        question_embedding=danish,
        **vectors,
    )
    event(
        "knowledge_gap", "t4", question="Do you ship to Iceland?", language="en", question_embedding=iceland, **vectors
    )
    event("handed_off", "t4", reason=HandoffReason.TRIGGER)  # routing: a trigger word, unknown to conversation
    event("resolved", "t4")  # so conversation resolves it after the quiet period: not the agent's resolution
    event("answered", "t5", question="How do I reset my password", at=now - timedelta(days=40))  # outside the range
    event("answered", "preview", question="Preview?", billable=False)
    return batch


async def gaps_grouped_by_meaning(harness: Harness, account: Account) -> list[dict[str, Any]]:
    """The open gaps once all three gap events are folded: the MobilePay questions are one gap."""
    gaps = await get_until(
        harness, account, "/knowledge-gaps", lambda body: sum(g["count"] for g in body["items"]) == 3
    )
    listed: list[dict[str, Any]] = gaps["items"]
    # One gap for the question in English and in Danish (by meaning: they share one word); threads live on
    # different partitions, so either language may have opened it.
    assert [(g["count"], "mobilepay" in g["question"].lower()) for g in listed] == [(2, True), (1, False)]
    assert listed[0]["nearest_content"] == [{"title": "Payment", "url": "https://help.example.com/payment"}]
    assert listed[0]["recommended_answer"] in (DRAFT, None)  # the Danish question came with no draft
    return listed


async def check_performance(harness: Harness, account: Account, now: datetime) -> None:
    """The figures of the last 30 days, of an older window, and the refusal of a bad range."""
    client = harness.client
    performance = await get_until(harness, account, "/performance", lambda body: body["conversations"] == 4)
    assert performance["answered"] == 1
    assert performance["resolved"] == 1
    assert performance["resolution_rate"] == 0.25
    assert performance["handoffs_by_reason"] == {"cannot_answer": 1, "trigger": 1}
    assert performance["answer_rate"] == 0.5
    assert performance["top_questions"][0]["count"] == 1
    window = {
        "from": (now - timedelta(days=45)).date().isoformat(),
        "to": (now - timedelta(days=35)).date().isoformat(),
    }
    query = "/performance?" + "&".join(f"{key}={value}" for key, value in window.items())
    older = await get_until(harness, account, query, lambda body: body["conversations"] == 1)
    assert older["answered"] == 1
    backwards = await client.get(
        account.path("/performance"), params={"from": "2026-11-02", "to": "2026-11-01"}, headers=account.read
    )
    assert backwards.status_code == 422
    assert (
        await client.get(account.path("/performance"), params={"from": "yesterday"}, headers=account.read)
    ).status_code == 422


async def check_resolving_and_dismissing(harness: Harness, account: Account, listed: list[dict[str, Any]]) -> None:
    """Resolving the MobilePay gap adds a short answer (a sync command, audited); Iceland's is dismissed."""
    client, servers = harness.client, harness.settings.kafka_bootstrap_servers
    offsets = await topic_ends(servers, SOURCES_COMMANDS)
    gap_id = listed[0]["id"]
    source = await resolve_gap(harness, account, gap_id, question=listed[0]["question"])
    open_gaps = (await client.get(account.path("/knowledge-gaps"), headers=account.read)).json()["items"]
    assert [g["question"] for g in open_gaps] == ["Do you ship to Iceland?"]
    iceland_gap = open_gaps[0]["id"]
    dismissed = await client.post(account.path(f"/knowledge-gaps/{iceland_gap}/dismiss"), headers=account.edit)
    assert dismissed.status_code == 200, dismissed.text
    assert dismissed.json()["status"] == "dismissed"
    again_dismissed = await client.post(account.path(f"/knowledge-gaps/{iceland_gap}/dismiss"), headers=account.edit)
    assert again_dismissed.status_code == 409
    assert (await client.get(account.path("/knowledge-gaps"), headers=account.read)).json()["items"] == []
    closed = (
        await client.get(account.path("/knowledge-gaps"), params={"status": "resolved"}, headers=account.read)
    ).json()
    assert [g["id"] for g in closed["items"]] == [gap_id]
    assert (await client.get(account.path(f"/sources/{source['id']}"), headers=account.read)).status_code == 200

    records = await read_from(servers, SOURCES_COMMANDS, offsets, lambda found: bool(events_for(found, account.id)))
    command = events_for(records, account.id, "source.sync")[0]["data"]
    assert (command["kind"], command["answer"]) == ("short_answer", "Yes, we accept MobilePay.")
    assert await audit_trail(harness, account, action="edit") == [
        ("knowledge_gap", "edit", gap_id),
        ("knowledge_gap", "edit", iceland_gap),
    ]
    assert ("source", "create", source["id"]) in await audit_trail(harness, account)


async def resolve_gap(harness: Harness, account: Account, gap_id: str, *, question: str) -> dict[str, Any]:
    """Resolve a gap with an answer (its question kept): the new short answer; resolving again is a conflict."""
    client = harness.client
    resolved = await client.post(
        account.path(f"/knowledge-gaps/{gap_id}/resolve"),
        json={"answer": "Yes, we accept MobilePay."},
        headers=account.edit,
    )
    assert resolved.status_code == 201, resolved.text
    source: dict[str, Any] = resolved.json()["source"]
    assert (source["kind"], source["question"], source["answer"]) == (
        "short_answer",
        question,
        "Yes, we accept MobilePay.",
    )
    assert resolved.json()["gap"]["status"] == "resolved"
    assert resolved.json()["gap"]["resolved_source_id"] == source["id"]
    again = await client.post(
        account.path(f"/knowledge-gaps/{gap_id}/resolve"), json={"answer": "x"}, headers=account.edit
    )
    assert again.status_code == 409
    unknown = await client.post(
        account.path("/knowledge-gaps/gap_nope/resolve"), json={"answer": "x"}, headers=account.edit
    )
    assert unknown.status_code == 404
    return source
