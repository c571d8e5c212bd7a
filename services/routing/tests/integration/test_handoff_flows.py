"""Routing on the real stack: who gets a new thread when the agent is paused, out of credits, triggered,
unable to answer or outside business hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from customer_agent_shared.events.channels import ChannelRef, ChannelType
from customer_agent_shared.events.config import (
    ChannelDeployment,
    HandoffMode,
    HandoffRule,
    HandoffSettings,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
    WorkingHours,
    WorkingInterval,
)
from customer_agent_shared.events.conversations import CONVERSATION_ANSWERED, CONVERSATION_CANNOT_ANSWER
from customer_agent_shared.testing.kafka import unique_name
from customer_agent_shared.testing.plumbing import eventually
from customer_agent_shared.topics import CHANNELS_INBOUND, CHANNELS_OUTBOUND, CONVERSATIONS_ASSIGNED, INBOX_HANDOFFS
from routing_service.adapters.orm import transcript_table
from sqlalchemy import select

from .routing_harness import MESSAGES, WEB_DEPLOYMENT, Harness, count, of_thread

pytestmark = pytest.mark.integration


async def test_a_paused_agent_keeps_its_open_thread_while_a_new_thread_goes_to_a_human(harness: Harness) -> None:
    account = unique_name("acc")
    user = HandoffUser(id="ada", paid_seat=True)
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")], update_avatar=False)
    await harness.configure(account, channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})], users=[user])
    marks = await harness.marks()
    await harness.say(account, "open", "m1")
    await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "open") == 1
    )

    await harness.configure(
        account, paused=True, channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})], users=[user]
    )
    await harness.say(account, "open", "m2")
    await harness.say(account, "fresh", "f1", locale="de-DE")
    await harness.say(account, "fresh", "f2", locale="de-DE")  # the human owns it now: forwarded

    handoffs = await harness.read(
        INBOX_HANDOFFS, marks, account, lambda es: count(es, "message.forwarded", "fresh") == 1
    )
    handed = [e for e in of_thread(handoffs, "fresh") if e.type == "thread.handed_off"]
    assert len(handed) == 1
    assert handed[0].data["reason"] == "agent_paused"
    assert handed[0].data["assignee"] == {"kind": "user", "id": "ada"}
    assert handed[0].data["update_avatar"] is False
    assert [entry["text"] for entry in handed[0].data["transcript"]] == ["hello"]
    forwarded = [e for e in of_thread(handoffs, "fresh") if e.type == "message.forwarded"]
    assert forwarded[0].data["message"]["message_id"] == "f2"
    assert forwarded[0].data["assignee"] == {"kind": "user", "id": "ada"}
    assert forwarded[0].key == f"{account}:fresh"

    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "open") == 2
    )
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "open")] == ["m1", "m2"]
    settled = await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: False, wait_seconds=1.0)
    assert of_thread(settled, "fresh") == []  # the agent never saw the new thread

    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "fresh")) >= 1)
    notice = of_thread(outbound, "fresh")
    assert len(notice) == 1
    assert notice[0].data["kind"] == "availability"
    assert notice[0].data["text"] == "[de] available"
    assert notice[0].data["language"] == "de"
    assert notice[0].data["powered_by_ai"] is False
    assert notice[0].data["author"]["kind"] == "system"
    assert notice[0].data["reply_to"] == "f1"


async def test_exhausted_credits_pause_new_threads_and_restored_credits_resume(harness: Harness) -> None:
    account = unique_name("acc")
    await harness.configure(account, channels=[WEB_DEPLOYMENT])  # nobody named: the unassigned view
    marks = await harness.marks()
    await harness.credits(account, exhausted=True, version=5)
    await harness.say(account, "during", "d1")
    await harness.say(account, "during", "d2")
    handoffs = await harness.read(
        INBOX_HANDOFFS, marks, account, lambda es: count(es, "message.forwarded", "during") == 1
    )
    handed = [e for e in of_thread(handoffs, "during") if e.type == "thread.handed_off"]
    assert [(e.data["reason"], e.data["assignee"]) for e in handed] == [
        ("credits_exhausted", {"kind": "unassigned", "id": None})
    ]

    await harness.credits(account, exhausted=False, version=6)
    await harness.credits(account, exhausted=True, version=4)  # late, older state, read before "after": ignored
    await harness.say(account, "after", "a1")
    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "after") == 1
    )
    assert of_thread(assigned, "during") == []
    assert of_thread(assigned, "after")[0].data["new_thread"] is True
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "during")) >= 1)
    assert [e.data["powered_by_ai"] for e in of_thread(outbound, "during")] == [False]


async def test_a_trigger_hands_off_at_once_with_the_transcript(harness: Harness) -> None:
    account = unique_name("acc")
    team = HandoffTeam(id="support", member_ids=["ada"], max_capacity=5)
    rule = HandoffRule(assign_to=[HandoffTarget(kind="team", id="support")], update_avatar=True)
    await harness.configure(
        account,
        channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})],
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["support"])],
        teams=[team],
        handoff=HandoffSettings(triggers=["menneske", "talk to a person"], messages=MESSAGES),
    )
    marks = await harness.marks()
    await harness.say(account, "t", "q1", "Hvad koster det?", locale="da-DK")
    await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "t") == 1)
    await harness.conversation(CONVERSATION_ANSWERED, account, "t", message_id="q1", answer="Det koster 10 kr.")

    async def answer_kept() -> bool:  # the answer (conversations.events.v1) ahead of the trigger (another topic)
        async with harness.service.kernel.session_factory() as session:
            query = select(transcript_table.c.role).where(transcript_table.c.account_id == account)
            return len((await session.execute(query)).all()) == 2

    await eventually(answer_kept, "routing kept the agent's answer in the transcript")
    await harness.say(account, "t", "q2", "Må jeg tale med et MENNESKE?", locale="da-DK")

    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: count(es, "thread.handed_off", "t") == 1)
    handed = of_thread(handoffs, "t")[0].data
    assert handed["reason"] == "trigger"
    assert handed["assignee"] == {"kind": "team", "id": "support"}
    assert handed["update_avatar"] is True
    assert [(entry["role"], entry["text"]) for entry in handed["transcript"]] == [
        ("visitor", "Hvad koster det?"),
        ("agent", "Det koster 10 kr."),
        ("visitor", "Må jeg tale med et MENNESKE?"),
    ]
    assigned = await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: False, wait_seconds=1.5)
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "t")] == ["q1"]  # not the trigger message
    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(of_thread(es, "t")) >= 1)
    assert [(e.data["kind"], e.data["text"], e.data["powered_by_ai"]) for e in of_thread(outbound, "t")] == [
        ("availability", "[da] available", True)
    ]


async def test_cannot_answer_hands_off_and_stay_assigned_keeps_the_agent(harness: Harness) -> None:
    account = unique_name("acc")
    stay = ChannelDeployment(type=ChannelType.LIVE_CHAT, id="stay", handoff=HandoffRule(mode=HandoffMode.STAY_ASSIGNED))
    await harness.configure(account, channels=[WEB_DEPLOYMENT, stay])
    marks = await harness.marks()
    await harness.say(account, "t", "q1")
    stay_message = harness.inbound(account, "s", "s1").model_copy(deep=True)
    stay_message.data.channel = ChannelRef(type=ChannelType.LIVE_CHAT, id="stay")
    await harness.send(CHANNELS_INBOUND, f"{account}:s", stay_message)
    await harness.read(CONVERSATIONS_ASSIGNED, marks, account, lambda es: len(es) == 2)
    await harness.conversation(CONVERSATION_CANNOT_ANSWER, account, "t", message_id="q1", language="en")
    await harness.conversation(CONVERSATION_CANNOT_ANSWER, account, "s", message_id="s1", language="en")
    await harness.conversation(CONVERSATION_CANNOT_ANSWER, account, "t", message_id="q1", language="en")  # late repeat

    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(es) >= 2)
    assert sorted((e.data["thread_id"], e.data["kind"]) for e in outbound) == [
        ("s", "handoff_unavailable"),
        ("t", "availability"),
    ]
    await harness.say(account, "s", "s2")  # still the agent's
    assigned = await harness.read(
        CONVERSATIONS_ASSIGNED, marks, account, lambda es: count(es, "conversation.assigned", "s") == 2
    )
    assert [e.data["message"]["message_id"] for e in of_thread(assigned, "s")] == ["s1", "s2"]
    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) >= 1)
    assert [(e.data["thread_id"], e.data["reason"]) for e in handoffs] == [("t", "cannot_answer")]


def _hours_around(moment: datetime, zone: str) -> WorkingHours:
    """Working hours from two hours before ``moment`` to two hours after, on its weekday in ``zone``."""
    local = moment.astimezone(ZoneInfo(zone))
    start, end = local - timedelta(hours=2), local + timedelta(hours=2)
    interval = WorkingInterval(day=start.weekday(), start=f"{start:%H:%M}", end=f"{end:%H:%M}")
    return WorkingHours(timezone=zone, intervals=[interval])


async def test_outside_business_hours_the_visitor_gets_the_message_in_their_language(harness: Harness) -> None:
    """Whether ada works is judged when routing decides, whatever time the provider's sent_at says."""
    account = unique_name("acc")
    now = datetime.now(UTC)
    rule = HandoffRule(assign_to=[HandoffTarget(kind="user", id="ada")])

    async def ada_works(hours: WorkingHours) -> None:
        await harness.configure(
            account,
            paused=True,
            channels=[WEB_DEPLOYMENT.model_copy(update={"handoff": rule})],
            users=[HandoffUser(id="ada", paid_seat=True, working_hours=hours)],
            default_language="de",
        )

    half_a_day_on = now + timedelta(hours=12)  # a provider's clock that far ahead, or a message queued that long
    await ada_works(_hours_around(half_a_day_on, "Europe/Copenhagen"))
    marks = await harness.marks()
    await harness.say(account, "off-da", "w1", "Hej", locale="da-DK", sent_at=half_a_day_on)
    await harness.say(account, "off-fr", "w2", "Bonjour", locale="fr-FR", sent_at=half_a_day_on)
    await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(es) >= 2)
    await ada_works(_hours_around(now, "Europe/Copenhagen"))
    await harness.say(account, "on-da", "w3", "Hej", locale="da-DK", sent_at=now - timedelta(hours=12))

    outbound = await harness.read(CHANNELS_OUTBOUND, marks, account, lambda es: len(es) >= 3)
    by_thread = {e.data["thread_id"]: (e.data["language"], e.data["text"]) for e in outbound}
    assert by_thread == {
        "off-da": ("da", "[da] outside hours"),
        "off-fr": ("de", "[de] outside hours"),  # French not configured: the account's default language
        "on-da": ("da", "[da] available"),
    }
    handoffs = await harness.read(INBOX_HANDOFFS, marks, account, lambda es: len(es) >= 3)
    assert {e.data["thread_id"]: e.data["assignee"]["kind"] for e in handoffs} == {
        "off-da": "unassigned",
        "off-fr": "unassigned",
        "on-da": "user",
    }
