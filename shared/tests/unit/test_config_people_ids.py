"""agent.config.v1: user and team ids follow the assignee rule; older snapshots are read without unusable ones."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from customer_agent_shared.events.config import (
    AGENT_CONFIG_SNAPSHOT,
    AgentConfigSnapshot,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
)
from customer_agent_shared.events.envelope import make_event, parse_event, serialize_event
from pydantic import ValidationError


@pytest.mark.parametrize("bad_id", ["u\tada", "u\nada", "u\x1b", "u\x7f", "u" * 201])
def test_user_and_team_ids_refuse_control_characters_and_more_than_200_characters(bad_id: str) -> None:
    with pytest.raises(ValidationError, match="id"):
        HandoffUser(id=bad_id)
    with pytest.raises(ValidationError, match="team_ids"):
        HandoffUser(id="u-ada", team_ids=[bad_id])
    with pytest.raises(ValidationError, match="id"):
        HandoffTeam(id=bad_id)
    with pytest.raises(ValidationError, match="member_ids"):
        HandoffTeam(id="support", member_ids=[bad_id])
    with pytest.raises(ValidationError, match="id"):
        HandoffTarget.model_validate({"kind": "user", "id": bad_id})


def test_ids_of_200_characters_without_control_characters_are_kept() -> None:
    user = HandoffUser(id="u" * 200, team_ids=["støtte team"])
    assert (user.id, user.team_ids) == ("u" * 200, ["støtte team"])


def _stored(users: list[dict[str, Any]], teams: list[dict[str, Any]], targets: list[dict[str, str]]) -> dict[str, Any]:
    """A snapshot as admin-api stored and published it before ids were checked."""
    channel = {"type": "live_chat", "id": "web", "handoff": {"mode": "handoff", "assign_to": targets}}
    return {
        "account_id": "acc-1",
        "version": 3,
        "updated_at": datetime(2026, 12, 1, tzinfo=UTC).isoformat(),
        "channels": [channel],
        "users": users,
        "teams": teams,
    }


def test_a_snapshot_from_older_data_is_read_without_the_people_whose_ids_have_control_characters() -> None:
    stored = _stored(
        users=[
            {"id": "u\tbad", "paid_seat": True, "team_ids": ["support"]},
            {"id": "u-ada", "paid_seat": True, "team_ids": ["support", "t\nbad"]},
        ],
        teams=[{"id": "support", "member_ids": ["u-ada", "u\tbad"]}, {"id": "t\nbad", "member_ids": ["u-ada"]}],
        targets=[{"kind": "user", "id": "u\tbad"}, {"kind": "team", "id": "support"}, {"kind": "team", "id": "t\nbad"}],
    )
    valid = AgentConfigSnapshot.model_validate(_stored(users=[], teams=[], targets=[]))
    body = json.loads(serialize_event(make_event(AGENT_CONFIG_SNAPSHOT, valid, source="s", account_id="acc-1")))
    body["data"] = stored  # what routing's subscriber reads from the compacted topic

    for config in (AgentConfigSnapshot.model_validate(stored), parse_event(json.dumps(body), AgentConfigSnapshot).data):
        assert [(user.id, user.team_ids) for user in config.users] == [("u-ada", ["support"])]
        assert [(team.id, team.member_ids) for team in config.teams] == [("support", ["u-ada"])]
        assert [(target.kind, target.id) for target in config.channels[0].handoff.assign_to] == [("team", "support")]


def test_a_snapshot_without_such_ids_is_read_unchanged() -> None:
    stored = _stored(
        users=[{"id": "u-ada", "paid_seat": True, "team_ids": ["support"]}],
        teams=[{"id": "support", "member_ids": ["u-ada"]}],
        targets=[{"kind": "user", "id": "u-ada"}],
    )
    config = AgentConfigSnapshot.model_validate(stored)
    assert [(user.id, user.team_ids) for user in config.users] == [("u-ada", ["support"])]
    assert [(team.id, team.member_ids) for team in config.teams] == [("support", ["u-ada"])]
    assert [target.id for target in config.channels[0].handoff.assign_to] == ["u-ada"]
