"""The folded agent profile: defaults, unknown values, and the optional per-account resolution rule."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from conversation_service.adapters.repositories import resolution_hours_of
from conversation_service.domain.model import AgentProfileRecord
from conversation_service.handlers.profiles import DEFAULT_PROFILE, profile_from_record
from customer_agent_shared.events.config import AgentConfigSnapshot, AgentRole, Personality
from pydantic import ValidationError


def _record(
    role: str = "sales_representative", personality: str = "witty", answer_threshold: float | None = None
) -> AgentProfileRecord:
    return AgentProfileRecord(
        account_id="a", version=1, name="Ada", role=role, personality=personality, default_language="da",
        resolution_hours=None, deleted=False, answer_threshold=answer_threshold,
    )  # fmt: skip


def test_no_snapshot_yet_means_the_default_agent() -> None:
    assert profile_from_record(None) == DEFAULT_PROFILE
    assert DEFAULT_PROFILE.persona.name == "Customer Agent"
    assert DEFAULT_PROFILE.answer_threshold is None  # the service's tuned default


def test_a_record_becomes_a_persona() -> None:
    profile = profile_from_record(_record())
    assert (profile.persona.name, profile.persona.role, profile.persona.personality) == (
        "Ada",
        AgentRole.SALES_REPRESENTATIVE,
        Personality.WITTY,
    )
    assert profile.default_language == "da"


def test_unknown_stored_values_fall_back_to_defaults() -> None:
    profile = profile_from_record(_record(role="astronaut", personality="grumpy"))
    assert profile.persona.role is AgentRole.CUSTOMER_SERVICE
    assert profile.persona.personality is Personality.FRIENDLY


@pytest.mark.parametrize(("given", "expected"), [({}, None), ({"resolution_hours": 24}, 24)])
def test_resolution_hours_come_with_the_snapshot(given: dict[str, int], expected: int | None) -> None:
    snapshot = AgentConfigSnapshot.model_validate(
        {"account_id": "a", "version": 1, "updated_at": datetime.now(UTC).isoformat(), **given}
    )
    assert resolution_hours_of(snapshot) == expected


def test_a_snapshot_refuses_resolution_hours_below_one() -> None:
    with pytest.raises(ValidationError):
        AgentConfigSnapshot.model_validate(
            {"account_id": "a", "version": 1, "updated_at": datetime.now(UTC).isoformat(), "resolution_hours": 0}
        )


@pytest.mark.parametrize("threshold", [None, 0.0, 0.9, 1.0])
def test_the_account_answer_threshold_reaches_the_profile(threshold: float | None) -> None:
    assert profile_from_record(_record(answer_threshold=threshold)).answer_threshold == threshold


def test_a_snapshot_carries_the_answer_threshold_and_older_ones_mean_the_default() -> None:
    now = datetime.now(UTC).isoformat()
    older = AgentConfigSnapshot.model_validate(
        {"account_id": "a", "version": 1, "updated_at": now, "agent": {"name": "Ada"}}
    )
    assert older.agent.answer_threshold is None
    strict = AgentConfigSnapshot.model_validate(
        {"account_id": "a", "version": 2, "updated_at": now, "agent": {"name": "Ada", "answer_threshold": 0.95}}
    )
    assert strict.agent.answer_threshold == 0.95
