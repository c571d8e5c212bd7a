"""User and team ids are refused with control characters: routing could not hand a thread off to them."""

from __future__ import annotations

from typing import Any

import pytest

from .harness import Harness

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/users", {"users": [{"id": "u\tada", "paid_seat": True}]}, "users.0.id"),
        ("/users", {"users": [{"id": "u-ada", "team_ids": ["support\n"]}]}, "users.0.team_ids.0"),
        ("/teams", {"teams": [{"id": "support\x1b"}]}, "teams.0.id"),
        ("/teams", {"teams": [{"id": "support", "member_ids": ["u\tada"]}]}, "teams.0.member_ids.0"),
    ],
)
async def test_an_id_with_a_control_character_is_refused_naming_the_field(
    harness: Harness, path: str, body: dict[str, Any], field: str
) -> None:
    client, account = harness.client, await harness.new_account()
    refused = await client.put(account.path(path), json=body, headers=account.edit)
    assert refused.status_code == 422, refused.text
    error = refused.json()["error"]
    assert error["code"] == "validation_error"
    assert [detail["field"] for detail in error["details"]] == [field]
    assert field in error["message"]
    assert (await client.get(account.path(path), headers=account.read)).json() == []


async def test_a_handoff_target_with_a_control_character_is_refused_naming_the_field(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    channel = {"type": "live_chat", "id": "web", "handoff": {"assign_to": [{"kind": "user", "id": "u\tada"}]}}
    refused = await client.post(account.path("/channels"), json=channel, headers=account.edit)
    assert refused.status_code == 422, refused.text
    assert [detail["field"] for detail in refused.json()["error"]["details"]] == ["handoff.assign_to.0.id"]


async def test_ids_up_to_200_characters_without_control_characters_are_kept(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    user_id, team_id = "u" * 200, "Support team ø"
    users = {"users": [{"id": user_id, "paid_seat": True, "team_ids": [team_id]}]}
    assert (await client.put(account.path("/users"), json=users, headers=account.edit)).status_code == 200
    teams = {"teams": [{"id": team_id, "member_ids": [user_id]}]}
    assert (await client.put(account.path("/teams"), json=teams, headers=account.edit)).status_code == 200
    too_long = {"users": [{"id": "u" * 201}]}
    refused = await client.put(account.path("/users"), json=too_long, headers=account.edit)
    assert refused.status_code == 422
    assert [detail["field"] for detail in refused.json()["error"]["details"]] == ["users.0.id"]
