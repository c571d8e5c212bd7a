"""Requests on agent.replay.v1: each service answers its own type, skips the other's, dead-letters the rest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.config import AgentConfigSnapshot
from customer_agent_shared.events.envelope import EventParseError, RawCloudEvent, make_event
from customer_agent_shared.events.replay import (
    REPLAY_REQUESTED,
    REPLAY_ROUTING_REQUESTED,
    ReplayRequested,
    is_request_for,
)


def _raw(event_type: str) -> RawCloudEvent:
    live = AgentConfigSnapshot(account_id="acc-1", version=1, updated_at=datetime(2026, 12, 7, tzinfo=UTC))
    request = ReplayRequested(account_id="acc-1", replay_id="rpl-1", limit=10, live=live, draft=live)
    event = make_event(event_type, request, source="admin-api", account_id="acc-1")
    return RawCloudEvent.model_validate(event.model_dump())


def test_each_service_takes_its_own_request_and_skips_the_others() -> None:
    assert is_request_for(_raw(REPLAY_REQUESTED), REPLAY_REQUESTED)
    assert not is_request_for(_raw(REPLAY_ROUTING_REQUESTED), REPLAY_REQUESTED)
    assert is_request_for(_raw(REPLAY_ROUTING_REQUESTED), REPLAY_ROUTING_REQUESTED)
    assert not is_request_for(_raw(REPLAY_REQUESTED), REPLAY_ROUTING_REQUESTED)


def test_an_unknown_type_is_a_poison_message() -> None:
    with pytest.raises(EventParseError, match=r"replay\.cancelled"):
        is_request_for(_raw("replay.cancelled"), REPLAY_REQUESTED)
