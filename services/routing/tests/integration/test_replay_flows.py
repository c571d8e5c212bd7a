"""A draft replay learns from routing what it would do with each replayed question; routing changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from customer_agent_shared.events.channels import HandoffReason
from customer_agent_shared.events.config import AgentConfigSnapshot, HandoffSettings
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.replay import REPLAY_ROUTING_REQUESTED, ReplayRoutingRequested, RoutingQuestion
from customer_agent_shared.testing.kafka import end_offsets, unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import AGENT_REPLAY, AGENT_REPLAY_RESULTS
from routing_service.adapters.orm import threads_table
from sqlalchemy import func, select

from .routing_harness import MESSAGES, WEB, WEB_DEPLOYMENT, Harness, Out

pytestmark = pytest.mark.integration


def answered_by(replay_id: str) -> Callable[[list[Out]], bool]:
    """Whether routing's verdicts for the replay ``replay_id`` are among the events read."""
    return lambda found: any(out.data["replay_id"] == replay_id for out in found)


async def test_a_replay_gets_routings_verdicts_under_the_live_and_the_draft_triggers(harness: Harness) -> None:
    account = unique_name("acc")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])
    live = AgentConfigSnapshot(
        account_id=account,
        version=1,
        updated_at=datetime.now(UTC),
        channels=[WEB_DEPLOYMENT],
        handoff=HandoffSettings(messages=MESSAGES),
    )
    draft = live.model_copy(update={"handoff": HandoffSettings(triggers=["refund"], messages=MESSAGES)})
    questions = [
        RoutingQuestion(position=0, channel=WEB, text="I want a refund"),
        RoutingQuestion(position=1, channel=WEB, text="Where is my parcel?", draft_handoff=HandoffReason.CANNOT_ANSWER),
    ]

    async def ask() -> list[Out]:
        """One replay request and routing's answer to it, if it comes within 2 s."""
        replay_id = f"rpl_{unique_name('r')}"
        marks = {AGENT_REPLAY_RESULTS: await end_offsets(harness.servers, AGENT_REPLAY_RESULTS)}
        request = ReplayRoutingRequested(
            account_id=account, replay_id=replay_id, live=live, draft=draft, questions=questions
        )
        await harness.send(
            AGENT_REPLAY, account, make_event(REPLAY_ROUTING_REQUESTED, request, source="admin-api", account_id=account)
        )
        found = await harness.read(AGENT_REPLAY_RESULTS, marks, account, answered_by(replay_id), wait_seconds=2.0)
        return [out for out in found if out.data["replay_id"] == replay_id]

    # The consumer may still be joining its group: ask again until it answers.
    mine = await eventually(ask, "routing answered a replay", 60)
    assert mine[0].type == "replay.routed"
    refund, parcel = mine[0].data["questions"]
    assert (refund["live"]["outcome"], refund["draft"]["outcome"]) == ("assigned_to_agent", "handed_off")
    assert (refund["draft"]["reason"], refund["draft"]["trigger"]) == ("trigger", "refund")
    assert parcel["live"]["outcome"] == "assigned_to_agent"
    assert (parcel["draft"]["outcome"], parcel["draft"]["reason"]) == ("handed_off", "cannot_answer")
    async with harness.service.kernel.session_factory() as session:
        threads = (await session.execute(select(func.count()).where(threads_table.c.account_id == account))).scalar()
    assert threads == 0  # a replay never makes a thread
