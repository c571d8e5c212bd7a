"""An admin's preview learns what routing would do with the question, and routing changes nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from customer_agent_shared.events.config import HandoffSettings
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.events.preview import PREVIEW_REQUESTED, PreviewRequested
from customer_agent_shared.testing.kafka import end_offsets, unique_name
from customer_agent_shared.topics import CONVERSATIONS_PREVIEW, CONVERSATIONS_PREVIEW_REPLIES
from routing_service.adapters.orm import threads_table
from sqlalchemy import func, select

from .routing_harness import MESSAGES, WEB, WEB_DEPLOYMENT, Harness, Out

pytestmark = pytest.mark.integration


def answered_by(correlation: str) -> Callable[[list[Out]], bool]:
    """Whether routing's answer to the request ``correlation`` is among the events read."""
    return lambda found: any(out.data["correlation_id"] == correlation for out in found)


async def ask(harness: Harness, account: str, text: str) -> Out:
    """Publish preview requests as admin-api does until routing answers one (its consumer may still be
    joining), and return routing's answer."""
    for attempt in range(30):
        marks = {CONVERSATIONS_PREVIEW_REPLIES: await end_offsets(harness.servers, CONVERSATIONS_PREVIEW_REPLIES)}
        correlation = f"prv_{unique_name('c')}_{attempt}"
        request = PreviewRequested(account_id=account, correlation_id=correlation, text=text, locale="da-DK")
        event = make_event(PREVIEW_REQUESTED, request, source="admin-api", account_id=account)
        await harness.send(CONVERSATIONS_PREVIEW, account, event)
        replies = await harness.read(
            CONVERSATIONS_PREVIEW_REPLIES, marks, account, answered_by(correlation), wait_seconds=2.0
        )
        mine = [out for out in replies if out.data["correlation_id"] == correlation]
        if mine:
            return mine[0]
    raise AssertionError("routing never answered a preview")


async def test_a_preview_reports_routings_decision_for_a_new_thread(harness: Harness) -> None:
    account = unique_name("acc")
    handoff = HandoffSettings(triggers=["menneske"], messages=MESSAGES)
    await harness.configure(account, channels=[WEB_DEPLOYMENT], handoff=handoff)

    answered = await ask(harness, account, "Hvad koster det?")
    triggered = await ask(harness, account, "Jeg vil tale med et menneske")

    assert answered.type == "preview.routed"
    assert answered.data["channel"] == WEB.model_dump(mode="json")
    assert (answered.data["outcome"], answered.data["reason"]) == ("assigned_to_agent", None)
    assert (triggered.data["outcome"], triggered.data["reason"]) == ("handed_off", "trigger")
    assert triggered.data["assignee"] == {"kind": "unassigned", "id": None}
    assert triggered.data["notice"]["language"] == "da"  # the availability message in the visitor's language
    async with harness.service.kernel.session_factory() as session:
        threads = (await session.execute(select(func.count()).where(threads_table.c.account_id == account))).scalar()
    assert threads == 0  # a preview never makes a thread
