"""Credits through the running services: a new account shows its plan's balance before any conversation, and a
plan change sets only the fields it names."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from customer_agent_shared.testing.plumbing import eventually

from tests.e2e.journey import AdminClient


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
