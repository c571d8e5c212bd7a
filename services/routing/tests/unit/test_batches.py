"""Routing's use cases in a batch (prepared together, then each handled in one transaction), on a fake unit of work:
what ``prepare`` works out once is what each event's ``handle`` uses."""

from __future__ import annotations

import pytest
from customer_agent_shared.events.config import HandoffSettings, HandoffUser
from routing_service.domain.decisions import Outcome

from .harness import ADA, message, routing, to

PEOPLE = [HandoffUser(id="ada", paid_seat=True)]
TRIGGERS = HandoffSettings(triggers=["talk to a person"])


async def test_a_batch_reads_each_messages_account_once_and_decides_as_event_by_event() -> None:
    batched, alone = routing(), routing()
    for service in (batched, alone):
        await service.configure(to(ADA), users=PEOPLE, handoff=TRIGGERS)
    texts = ["talk to a person" if index % 10 == 0 else "hello" for index in range(100)]
    events = [message(f"t{index % 20}", f"m{index}", text) for index, text in enumerate(texts)]

    outcomes = await batched.route_batch(events)

    assert batched.directory.reads == 100  # once per message: prepare's read serves its handle
    assert outcomes == [await alone.say(f"t{index % 20}", f"m{index}", text) for index, text in enumerate(texts)]
    assert alone.directory.reads == 100
    assert {Outcome.HANDED_OFF, Outcome.FORWARDED_TO_INBOX, Outcome.ASSIGNED_TO_AGENT} <= set(outcomes)
    assert [(topic, key, event.type, event.data) for topic, key, event in batched.database.published] == [
        (topic, key, event.type, event.data) for topic, key, event in alone.database.published
    ]
    assert batched.loads() == alone.loads()


async def test_a_configuration_folded_between_prepare_and_handle_counts_from_the_next_batch() -> None:
    service = routing()
    await service.configure(to(ADA), users=PEOPLE)  # no trigger yet
    asked = message("t", "m1", "talk to a person")

    async with service.batch():
        await service.inbound.prepare([asked])
        # Folded by its own consumer meanwhile (in the fake, on the batch's tables).
        await service.configure(to(ADA), version=2, users=PEOPLE, handoff=TRIGGERS)
        decision = await service.inbound.handle(asked)

    assert decision is not None
    assert decision.outcome is Outcome.ASSIGNED_TO_AGENT  # on the view prepare read, as its holds were foreseen
    assert await service.route_batch([message("t", "m2", "talk to a person")]) == [Outcome.HANDED_OFF]


async def test_a_message_redone_on_its_own_after_its_batch_failed_is_judged_afresh() -> None:
    service = routing()
    await service.configure(to(ADA), users=PEOPLE)
    asked = message("t", "m1", "talk to a person")

    async def failing_batch() -> None:
        async with service.batch():
            await service.inbound.prepare([asked])
            raise RuntimeError("another event of the batch failed")

    with pytest.raises(RuntimeError):
        await failing_batch()
    await service.configure(to(ADA), version=2, users=PEOPLE, handoff=TRIGGERS)

    decision = await service.inbound.handle(asked)

    assert decision is not None
    assert decision.outcome is Outcome.HANDED_OFF
    assert service.directory.reads == 2  # prepare's, rolled back with its batch, and its own
