"""Draft and publish with replay (issue 29): visitors' real questions reach the agent over
channels.inbound.v1; a draft trigger word is replayed on them through conversation and routing (nothing is
sent, nothing is charged) and shows which answered question it would hand off; published, it does so live."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

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
    for question in answers:  # a ready source may take a moment to be searchable: ask the preview first
        deadline = asyncio.get_running_loop().time() + 30
        while (await admin.call("POST", "/agent/preview", json={"text": question}))["kind"] != "answer":
            assert asyncio.get_running_loop().time() < deadline, f"the agent never answered {question!r}"
            await asyncio.sleep(1.0)


async def used_credits(admin: AdminClient, at_least: int, timeout_seconds: float = 30) -> int:
    """The credits used this period, once billing has charged ``at_least``."""
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while (used := (await admin.call("GET", "/credits"))["used_this_period"] or 0) < at_least:
        assert asyncio.get_running_loop().time() < deadline, f"billing never charged {at_least}"
        await asyncio.sleep(0.5)
    return int(used)


async def finished_replay(admin: AdminClient, location: str, timeout_seconds: float = 120) -> dict[str, Any]:
    """Poll the replay until it is done (fail if it failed)."""
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        replay = await admin.call("GET", location.removeprefix(admin.base))
        assert replay["state"] != "failed", replay
        if replay["state"] == "done":
            return dict(replay)
        assert asyncio.get_running_loop().time() < deadline, f"replay still running: {replay}"
        await asyncio.sleep(1.0)


async def routing_hands_off(admin: AdminClient, text: str, timeout_seconds: float = 60) -> dict[str, Any]:
    """Preview ``text`` until routing would hand it off on a trigger word (the published configuration has
    reached routing)."""
    deadline = asyncio.get_running_loop().time() + timeout_seconds
    while True:
        routing = (await admin.call("POST", "/agent/preview", json={"text": text})).get("routing") or {}
        if routing.get("reason") == "trigger":
            return dict(routing)
        assert asyncio.get_running_loop().time() < deadline, f"routing never handed off {text!r}: {routing}"
        await asyncio.sleep(1.0)  # previews have their own rate budget


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
    charged = await used_credits(admin, 2)

    draft = await admin.http.put(admin.base + "/agent/draft", json={"handoff": {"triggers": ["refund"]}})
    assert draft.status_code == 200, draft.text
    assert (await admin.call("GET", "/handoff"))["triggers"] == []  # nothing is live yet
    sent_before = len(provider.received[account].outbound)
    started = await admin.http.post(admin.base + "/agent/draft/replay", json={"limit": 200})
    assert started.status_code == 202, started.text

    replay = await finished_replay(admin, started.headers["Location"])
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
    await asyncio.sleep(2.0)  # anything the replay sent or charged would arrive here
    assert len(provider.received[account].outbound) == sent_before
    assert await used_credits(admin, charged) == charged

    published = await admin.http.post(admin.base + "/agent/publish", headers={"If-Match": draft.headers["ETag"]})
    assert published.status_code == 200, published.text
    assert (await admin.call("GET", "/handoff"))["triggers"] == ["refund"]
    await routing_hands_off(admin, REFUND)
    live = await provider.send(account, "t-refund-live", REFUND, channel=("live_chat", "web"))
    handoff = await provider.handoff(account, "t-refund-live")
    assert (handoff["reason"], handoff["assignee"]) == ("trigger", {"kind": "unassigned", "id": None})
    assert all(reply["kind"] != "answer" for reply in provider.replies(account, live))
    audit = await admin.call("GET", "/audit-log", params={"target_type": "agent"})
    assert [entry["action"] for entry in audit["items"]][:1] == ["publish"]
