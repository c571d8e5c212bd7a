"""Performance and knowledge gaps folded from conversation events; resolving a gap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from customer_agent_shared.embeddings import BuiltinEmbedder
from customer_agent_shared.events.channels import ChannelRef, ChannelType, Citation, HandoffReason
from customer_agent_shared.events.conversations import ConversationEvent
from customer_agent_shared.events.envelope import CloudEvent, make_event, serialize_event
from customer_agent_shared.testing.kafka import produce_raw
from customer_agent_shared.topics import CONVERSATIONS_EVENTS, SOURCES_COMMANDS

from .harness import Harness, audit_trail, events_for, get_until, read_from, topic_ends

pytestmark = pytest.mark.integration


async def test_performance_and_knowledge_gaps(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    now = datetime.now(UTC)
    pay = Citation(title="Payment", url="https://help.example.com/payment")

    def event(kind: str, thread: str, **fields: Any) -> None:
        data = ConversationEvent(
            account_id=account.id,
            thread_id=thread,
            channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
            occurred_at=fields.pop("at", now),
            **fields,
        )
        batch.append(make_event(f"conversation.{kind}", data, source="conversation-test", account_id=account.id))

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
    batch: list[CloudEvent[ConversationEvent]] = []
    event("answered", "t1", question="How do I reset my password?", answer="Click 'forgot'.")
    event("resolved", "t1")
    event("cannot_answer", "t2", question="Can I pay with MobilePay?")
    draft = "We accept cards and MobilePay."
    event(
        "knowledge_gap",
        "t2",
        question="Can I pay with MobilePay?",
        nearest_content=[pay],
        language="en",
        recommended_answer=draft,
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
    for item in batch:
        await produce_raw(
            servers,
            CONVERSATIONS_EVENTS,
            serialize_event(item),
            key=f"{account.id}:{item.data.thread_id}".encode(),
        )

    gaps = await get_until(
        harness, account, "/knowledge-gaps", lambda body: sum(g["count"] for g in body["items"]) == 3
    )
    listed = gaps["items"]
    # One gap for the question in English and in Danish (by meaning: they share one word); threads live on
    # different partitions, so either language may have opened it.
    assert [(g["count"], "mobilepay" in g["question"].lower()) for g in listed] == [(2, True), (1, False)]
    assert listed[0]["nearest_content"] == [{"title": "Payment", "url": "https://help.example.com/payment"}]
    assert listed[0]["recommended_answer"] in (draft, None)  # the Danish question came with no draft

    performance = await get_until(harness, account, "/performance", lambda body: body["conversations"] == 4)
    assert performance["answered"] == 1
    assert performance["resolved"] == 1
    assert performance["resolution_rate"] == 0.25
    assert performance["handoffs_by_reason"] == {"cannot_answer": 1, "trigger": 1}
    assert performance["answer_rate"] == 0.5
    assert performance["credits_used"] == 4
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

    offsets = await topic_ends(servers, SOURCES_COMMANDS)
    gap_id = listed[0]["id"]
    resolved = await client.post(
        account.path(f"/knowledge-gaps/{gap_id}/resolve"),
        json={"answer": "Yes, we accept MobilePay."},
        headers=account.edit,
    )
    assert resolved.status_code == 201, resolved.text
    source = resolved.json()["source"]
    assert (source["kind"], source["question"], source["answer"]) == (
        "short_answer",
        listed[0]["question"],
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
