"""Credits through the running services: a new account shows its plan's balance before any conversation, a
plan change sets only the fields it names, and the performance figures' credits used are what billing charged."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from customer_agent_shared.testing.plumbing import eventually

from tests.e2e.journey import AdminClient, ChannelProvider


async def credits_once(admin: AdminClient, check: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """Poll GET /credits until ``check`` holds; that body."""

    async def matching() -> dict[str, Any] | None:
        credits: dict[str, Any] = await admin.call("GET", "/credits")
        return credits if check(credits) else None

    return await eventually(matching, what, every=0.5)


async def test_a_new_account_shows_its_credits_and_a_partial_plan_keeps_the_rest(admin: AdminClient) -> None:
    opened = await credits_once(admin, lambda credits: credits["known"], "billing opened the new account")
    assert opened["balance"] == opened["allotment"] == opened["plan"]["monthly_allotment"]
    assert (opened["used_this_period"], opened["exhausted"]) == (0, False)

    lowered = {"monthly_allotment": 10, "reset_day": 15}
    await admin.call("PUT", "/credits/plan", json=lowered, as_operator=True)
    await credits_once(admin, lambda credits: credits["plan"]["reset_day"] == 15, "the lowered allotment")
    packs = {"auto_upgrade_pack_credits": 50, "auto_upgrade_limit": 1}
    await admin.call("PUT", "/credits/plan", json=packs, as_operator=True)
    latest = await credits_once(admin, lambda credits: credits["plan"]["auto_upgrade_limit"] == 1, "the packs")

    assert latest["plan"] == {**opened["plan"], **lowered, **packs}
    assert (latest["allotment"], latest["balance"]) == (10, 10)


async def test_the_performance_credits_used_are_what_billing_charged(
    admin: AdminClient, provider: ChannelProvider
) -> None:
    account, hours = admin.account_id, "What are your opening hours?"
    await admin.call("POST", "/channels", json={"type": "live_chat", "id": "web"})
    await admin.call("PUT", "/handoff", json={"triggers": ["talk to a person"], "messages": {}})
    short = await admin.call("POST", "/sources", json={"kind": "short_answer", "question": hours, "answer": "9 to 5."})
    await admin.wait_source_ready(short["id"])
    await admin.keep_credit_resets_away()  # this period's credits used are compared below
    # The trigger came after the channel: once routing hands off on it, it has both.
    await admin.wait_for_routing("trigger", text="I want to talk to a person")

    # As on the audited account: two threads the agent answered, one of them then handed off on the visitor's
    # word, and one whose only question it could not answer (a conversation, but not one billing charges).
    for thread in ("t-answered", "t-handed-off"):
        asked = await provider.send(account, thread, hours)
        assert (await provider.reply_to(account, asked, timeout_seconds=60))["kind"] == "answer"
    missed = await provider.send(account, "t-missed", "hi bin")
    assert (await provider.reply_to(account, missed, timeout_seconds=60))["kind"] == "rephrase_request"
    await provider.send(account, "t-handed-off", "I want to talk to a person")
    assert (await provider.handoff(account, "t-handed-off"))["reason"] == "trigger"

    await credits_once(admin, lambda body: body["used_this_period"] == 2, "billing charged two threads")
    today = datetime.now(UTC).date()
    days = {"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()}  # the whole new account

    async def all_folded() -> dict[str, Any] | None:
        figures: dict[str, Any] = await admin.call("GET", "/performance", params=days)
        return figures if figures["conversations"] == 3 and figures["handoffs"] == 1 else None

    performance = await eventually(all_folded, "the three conversations in the figures", every=0.5)
    # Billing charges a thread once, when the agent first answers it (this plan): the handoff takes nothing back.
    assert performance["credits_used"] == (await admin.call("GET", "/credits"))["used_this_period"] == 2
