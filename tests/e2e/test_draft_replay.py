"""Draft and publish with replay (issue 29): visitors' real questions reach the agent over
channels.inbound.v1; a draft trigger word is replayed on them through conversation and routing (nothing is
sent, nothing is charged) and shows which answered question it would hand off; published, it does so live."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import Any

import pytest
from customer_agent_shared.testing.plumbing import eventually

from tests.e2e.journey import AdminClient, ChannelProvider

pytestmark = pytest.mark.e2e

REFUND = "Can I get a refund on my order?"
PASSWORD = "How do I reset my password?"


async def set_up(admin: AdminClient) -> None:
    """The agent on live chat 'web' (handoffs to the unassigned view) with two short answers."""
    await admin.call("POST", "/channels", json={"type": "live_chat", "id": "web"})
    answers = {
        REFUND: "Yes: refunds are paid within 30 days of your return.",
        PASSWORD: "Use the Forgot password link on the sign-in page.",
    }
    for question, answer in answers.items():
        source = await admin.call(
            "POST", "/sources", json={"kind": "short_answer", "question": question, "answer": answer}
        )
        await admin.wait_source_ready(source["id"])
    for question in answers:  # a ready source may take a moment to be searchable: the preview tells
        await eventually(partial(preview_answers, admin, question), f"the agent answers {question!r}", every=1.0)
    await admin.wait_for_routing(None)  # the channel has reached routing: a new thread goes to the agent
    await admin.keep_credit_resets_away()  # the credits used are compared before and after the replay


async def preview_answers(admin: AdminClient, question: str) -> bool:
    """Whether the agent's preview answers ``question``."""
    return bool((await admin.call("POST", "/agent/preview", json={"text": question}))["kind"] == "answer")


async def routing_hands_off(admin: AdminClient, question: str) -> bool:
    """Whether routing, per the preview, would hand a thread starting with ``question`` off on a trigger word."""
    routing = (await admin.call("POST", "/agent/preview", json={"text": question})).get("routing")
    return routing is not None and routing.get("reason") == "trigger"


async def credits_used(admin: AdminClient, at_least: int = 0) -> int | None:
    """The credits used this period, once they are ``at_least`` (None before)."""
    used = int((await admin.call("GET", "/credits"))["used_this_period"] or 0)
    return used if used >= at_least else None


async def replay_finished(admin: AdminClient, location: str) -> dict[str, Any] | None:
    """The replay once it is done (failing if it failed); None while it runs."""
    replay = await admin.call("GET", location.removeprefix(admin.base))
    assert replay["state"] != "failed", replay
    return dict(replay) if replay["state"] == "done" else None


async def test_a_replayed_draft_shows_what_it_changes_and_publishing_makes_it_live(
    admin: AdminClient, provider: ChannelProvider
) -> None:
    account = admin.account_id
    await set_up(admin)
    asked = {}
    for thread, question in (("t-refund", REFUND), ("t-password", PASSWORD)):
        message = await provider.send(account, thread, question, channel=("live_chat", "web"))
        asked[question] = await provider.reply_to(account, message, timeout_seconds=60)
    assert {question: reply["kind"] for question, reply in asked.items()} == {REFUND: "answer", PASSWORD: "answer"}
    charged = await eventually(lambda: credits_used(admin, 2), "billing charged the two threads", every=0.5)

    draft = await admin.http.put(admin.base + "/agent/draft", json={"handoff": {"triggers": ["refund"]}})
    assert draft.status_code == 200, draft.text
    assert (await admin.call("GET", "/handoff"))["triggers"] == []  # nothing is live yet
    sent_before = len(provider.received[account].outbound)
    started = await admin.http.post(admin.base + "/agent/draft/replay", json={"limit": 200})
    assert started.status_code == 202, started.text

    location = started.headers["Location"]
    replay = await eventually(lambda: replay_finished(admin, location), "the replay done", 120, every=1.0)
    assert (replay["available"], replay["complete"], replay["routing_compared"]) == (2, True, True)
    assert replay["summary"] == {
        "replayed": 2,
        "changed": 1,
        "unchanged": 1,
        "answered_to_declined": 1,
        "declined_to_answered": 0,
        "citations_changed": 0,
        "handoff_reason_changed": 1,
        "handoff_target_changed": 0,
    }
    (change,) = replay["changes"]
    assert (change["question"], change["thread_id"]) == (REFUND, "t-refund")
    assert (change["live"]["answered"], change["live"]["reply"], change["live"]["handoff"]) == (True, "answer", None)
    assert change["draft"]["answered"] is False
    assert change["draft"]["handoff"] == {
        "reason": "trigger",
        "outcome": "handed_off",
        "assignee": {"kind": "unassigned", "id": None},
        "trigger": "refund",
    }
    await asyncio.sleep(2.0)  # waits for what must not happen: anything the replay sent or charged arrives here
    assert len(provider.received[account].outbound) == sent_before
    assert await credits_used(admin) == charged

    published = await admin.http.post(admin.base + "/agent/publish", headers={"If-Match": draft.headers["ETag"]})
    assert published.status_code == 200, published.text
    assert (await admin.call("GET", "/handoff"))["triggers"] == ["refund"]
    await eventually(lambda: routing_hands_off(admin, REFUND), "routing has the published trigger", 60, every=1.0)
    live = await provider.send(account, "t-refund-live", REFUND, channel=("live_chat", "web"))
    handoff = await provider.handoff(account, "t-refund-live")
    assert (handoff["reason"], handoff["assignee"]) == ("trigger", {"kind": "unassigned", "id": None})
    assert all(reply["kind"] != "answer" for reply in provider.replies(account, live))
    audit = await admin.call("GET", "/audit-log", params={"target_type": "agent"})
    assert [entry["action"] for entry in audit["items"]][:1] == ["publish"]
