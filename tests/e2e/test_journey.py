"""The whole journey of DESIGN.md through the public contract only (REST + Kafka topics)."""

from __future__ import annotations

import uuid

import pytest
from customer_agent_shared.testing.plumbing import eventually

from tests.e2e.journey import AdminClient, ChannelProvider

pytestmark = pytest.mark.e2e

TRIGGER = "I want to speak to a human please"

WARRANTY_TEXT = "Warranty\n\nEvery coffee machine we sell carries a two year warranty covering defects in materials.\n"


async def set_up_agent(admin: AdminClient, site_url: str) -> None:
    """Profile, people, two channels with different rules, and three kinds of content."""
    await admin.call("PUT", "/agent", json={"name": "Ava", "role": "customer_service", "personality": "friendly"})
    await admin.call(
        "PUT",
        "/users",
        json=[{"id": "u-anna", "name": "Anna", "paid_seat": True, "available": True, "team_ids": ["t-support"]}],
    )
    await admin.call("PUT", "/teams", json=[{"id": "t-support", "name": "Support", "member_ids": ["u-anna"]}])
    await admin.call(
        "POST",
        "/channels",
        json={
            "type": "live_chat",
            "id": "web",
            "handoff": {"mode": "handoff", "assign_to": [{"kind": "user", "id": "u-anna"}], "update_avatar": True},
        },
    )
    await admin.call(
        "POST",
        "/channels",
        json={
            "type": "whatsapp",
            "id": "wa",
            "handoff": {"mode": "stay_assigned", "assign_to": [], "update_avatar": False},
        },
    )
    await admin.call("PUT", "/handoff", json={"triggers": ["speak to a human", "complaint"], "messages": {}})
    website = await admin.call("POST", "/sources", json={"kind": "url", "url": site_url, "import_related": True})
    upload = await admin.call(
        "POST", "/sources/files", files={"file": ("warranty.txt", WARRANTY_TEXT.encode(), "text/plain")}
    )
    short = await admin.call(
        "POST",
        "/sources",
        json={
            "kind": "short_answer",
            "question": "Do you have a physical store?",
            "answer": "No, we only sell online.",
        },
    )
    for source in (website, upload, short):
        ready = await admin.wait_source_ready(source["id"])
        assert ready["chunks"] >= 1
    await admin.keep_credit_resets_away()  # a reset during the journey would restore the credits it runs out of


async def test_the_whole_journey(admin: AdminClient, provider: ChannelProvider, local_site: str) -> None:
    account = admin.account_id
    await set_up_agent(admin, local_site)
    # The last configuration snapshot (with the triggers) has reached routing; conversation folds the same.
    await eventually(lambda: routing_hands_off(admin, TRIGGER, "trigger"), "routing has the triggers", 60, every=1.0)
    answered = await answers_in_the_visitors_language(provider, account)
    await a_trigger_hands_off_to_the_rules_user(provider, account)
    answered += await a_gap_is_handed_off_then_answered_once_resolved(admin, provider, account)
    # Exactly one reply per inbound message so far.
    for message_id in answered:
        assert len(provider.replies(account, message_id)) == 1
    await credits_run_out_and_are_bought_again(admin, provider, account)
    await the_audit_log_shows_every_change(admin)


async def answers_in_the_visitors_language(provider: ChannelProvider, account: str) -> list[str]:
    """Answers with citations, in the visitor's language, and a short answer's; the questions' message ids."""
    english = await provider.send(account, "t-en", "How long does delivery to Denmark take?")
    reply = await provider.reply_to(account, english)
    assert reply["kind"] == "answer"
    assert reply["language"].startswith("en")
    assert reply["author"] == {"kind": "ai_agent", "name": "Ava"}
    assert any("shipping" in citation["url"] for citation in reply["citations"])
    assert reply["powered_by_ai"] is True

    danish = await provider.send(account, "t-da", "Hvor lang tid tager levering til Danmark?", locale="da-DK")
    reply = await provider.reply_to(account, danish)
    assert reply["kind"] == "answer"
    assert reply["language"].startswith("da")
    assert any("shipping" in citation["url"] for citation in reply["citations"])

    short = await provider.send(account, "t-short", "Do you have a physical store?")
    assert "only sell online" in (await provider.reply_to(account, short))["text"]
    return [english, danish, short]


async def a_trigger_hands_off_to_the_rules_user(provider: ChannelProvider, account: str) -> None:
    """A trigger phrase hands off at once, to the rule's user, with no answer."""
    triggered = await provider.send(account, "t-trigger", TRIGGER)
    handoff = await provider.handoff(account, "t-trigger")
    assert handoff["reason"] == "trigger"
    assert handoff["assignee"] == {"kind": "user", "id": "u-anna"}
    assert handoff["update_avatar"] is True
    assert not [m for m in provider.replies(account, triggered) if m["kind"] == "answer"]


async def a_gap_is_handed_off_then_answered_once_resolved(
    admin: AdminClient, provider: ChannelProvider, account: str
) -> list[str]:
    """An unanswerable question: rephrase first, then a handoff; it becomes a knowledge gap, and once the gap
    is resolved the agent answers it. The ids of the messages answered (the first miss and the answer)."""
    gap_question = "Can I pay with cryptocurrency?"
    first_miss = await provider.send(account, "t-gap", gap_question)
    assert (await provider.reply_to(account, first_miss))["kind"] == "rephrase_request"
    await provider.send(account, "t-gap", gap_question)
    assert (await provider.handoff(account, "t-gap"))["reason"] == "cannot_answer"
    gaps = await wait_for_gap(admin, "cryptocurrency")
    await admin.call("POST", f"/knowledge-gaps/{gaps['id']}/resolve", json={"answer": "Yes, we accept Bitcoin."})
    await eventually(lambda: answers(admin, gap_question, "Bitcoin"), "the gap's answer indexed", 60, every=1.0)
    answered_now = await provider.send(account, "t-gap-2", gap_question)
    reply = await provider.reply_to(account, answered_now, timeout_seconds=60)
    assert reply["kind"] == "answer"
    assert "Bitcoin" in reply["text"]
    return [first_miss, answered_now]


async def credits_run_out_and_are_bought_again(admin: AdminClient, provider: ChannelProvider, account: str) -> None:
    """Credits run out: an open agent thread continues, a new thread goes to a human; once credits are
    purchased, the agent takes new threads again."""
    open_thread = await provider.send(account, "t-open", "How much does delivery cost?")
    assert (await provider.reply_to(account, open_thread))["kind"] == "answer"
    # Lower this period's allotment by what is left: the balance reaches zero.
    credits = await admin.call("GET", "/credits")
    lowered = {"monthly_allotment": credits["allotment"] - credits["balance"]}
    await admin.call("PUT", "/credits/plan", json=lowered, as_operator=True)
    await wait_for_credit_state(admin, exhausted=True)
    # admin-api and routing each read billing's credit state on their own: wait for routing's too.
    await admin.wait_for_routing("credits_exhausted")
    new_thread = await provider.send(account, "t-new-while-paused", "What is your return policy?")
    paused_handoff = await provider.handoff(account, "t-new-while-paused")
    assert paused_handoff["reason"] == "credits_exhausted"
    assert not [m for m in provider.replies(account, new_thread) if m["kind"] == "answer"]
    continued = await provider.send(account, "t-open", "And how long does it take?")
    assert (await provider.reply_to(account, continued))["kind"] == "answer"

    await admin.call("POST", "/credits/purchases", json={"credits": 100}, as_operator=True)
    await wait_for_credit_state(admin, exhausted=False)
    await admin.wait_for_routing(None)  # routing has the restored credits too: a new thread goes to the agent
    after = await provider.send(account, f"t-after-{uuid.uuid4().hex[:6]}", "How long do I have to return an item?")
    reply = await provider.reply_to(account, after)
    assert reply["kind"] == "answer"
    assert any("returns" in citation["url"] for citation in reply["citations"])


async def the_audit_log_shows_every_change(admin: AdminClient) -> None:
    """The audit log shows every kind of change the journey made."""
    audit = await admin.call("GET", "/audit-log")
    entries = audit["items"] if isinstance(audit, dict) else audit
    targets = {(entry["action"], entry["target_type"]) for entry in entries}
    for expected in [("edit", "agent"), ("create", "channel"), ("create", "source"), ("edit", "handoff")]:
        assert expected in targets, f"{expected} missing from the audit log: {sorted(targets)}"


async def answers(admin: AdminClient, question: str, words: str) -> bool:
    """Whether the agent's preview answers ``question`` with ``words`` in the answer."""
    reply = await admin.call("POST", "/agent/preview", json={"text": question})
    return bool(reply["kind"] == "answer" and words in reply["text"])


async def routing_hands_off(admin: AdminClient, question: str, reason: str) -> bool:
    """Whether routing, per the preview, would hand a new thread starting with ``question`` off for ``reason``."""
    routing = (await admin.call("POST", "/agent/preview", json={"text": question})).get("routing")
    return routing is not None and routing.get("reason") == reason


async def wait_for_gap(admin: AdminClient, words: str) -> dict[str, object]:
    """Poll the knowledge gaps until one mentions ``words``."""

    async def gap() -> dict[str, object] | None:
        listing = await admin.call("GET", "/knowledge-gaps")
        items = listing["items"] if isinstance(listing, dict) else listing
        return next((dict(item) for item in items if words in item["question"].lower()), None)

    return await eventually(gap, f"a knowledge gap about {words}", every=0.5)


async def wait_for_credit_state(admin: AdminClient, *, exhausted: bool) -> None:
    """Poll GET /credits until the exhaustion flag matches."""

    async def matches() -> bool:
        return bool((await admin.call("GET", "/credits")).get("exhausted")) == exhausted

    await eventually(matches, f"credits exhausted={exhausted}", every=0.5)
