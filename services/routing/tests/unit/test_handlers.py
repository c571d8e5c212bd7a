"""Routing's use cases on a fake unit of work: who owns each thread, the places people hold, what is published."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from customer_agent_shared.events.channels import Assignee, AssigneeKind, HandoffReason
from customer_agent_shared.events.config import (
    AGENT_CONFIG_SNAPSHOT,
    AgentConfigSnapshot,
    HandoffSettings,
    HandoffTeam,
    HandoffUser,
    WorkingHours,
    WorkingInterval,
)
from customer_agent_shared.events.conversations import (
    CONVERSATION_ANSWERED,
    CONVERSATION_CANNOT_ANSWER,
    CONVERSATION_RESOLVED,
)
from customer_agent_shared.events.envelope import make_event, parse_event, serialize_event
from customer_agent_shared.events.inbox import (
    THREAD_CLOSED,
    THREAD_REASSIGNED,
    THREAD_RETURNED,
    ClosedBy,
    ThreadClosed,
    ThreadReassigned,
    ThreadReturned,
)
from customer_agent_shared.topics import CHANNELS_OUTBOUND, CONVERSATIONS_ASSIGNED, CONVERSATIONS_EVENTS, INBOX_HANDOFFS
from routing_service.domain.decisions import Outcome
from routing_service.domain.ownership import ThreadState

from .harness import ACCOUNT, ADA, BO, NOTICES, NOW, SALES, WEB, conversation, message, routing, to


async def test_a_message_on_a_deployed_channel_goes_to_the_agent_once() -> None:
    service = routing()
    await service.configure()
    first = message("t", "m1")

    assert await service.inbound.handle(first) is not None
    assert await service.inbound.handle(first) is None  # redelivered
    assert await service.say("t", "m2") is Outcome.ASSIGNED_TO_AGENT

    assigned = service.published(CONVERSATIONS_ASSIGNED, "t")
    assert [(event.data.message.message_id, event.data.new_thread) for event in assigned] == [
        ("m1", True),
        ("m2", False),
    ]
    assert service.thread("t") == (ThreadState.AGENT, None)
    assert service.database.tables.threads[(ACCOUNT, "t")].messages == 2
    assert service.database.published == [(CONVERSATIONS_ASSIGNED, f"{ACCOUNT}:t", e) for e in assigned]


async def test_a_trigger_hands_the_thread_to_the_team_with_the_transcript_and_forwards_the_rest() -> None:
    service = routing()
    await service.configure(
        to(SALES),
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["sales"])],
        teams=[HandoffTeam(id="sales", member_ids=["ada"], max_capacity=5)],
        handoff=HandoffSettings(triggers=["talk to a person"]),
    )
    await service.say("t", "q1", "How much is it?")
    await service.conversation.handle(conversation(CONVERSATION_ANSWERED, "t", message_id="q1", answer="10 kr."))

    assert await service.say("t", "q2", "Let me talk to a person") is Outcome.HANDED_OFF
    assert await service.say("t", "q3", "Anyone?") is Outcome.FORWARDED_TO_INBOX

    handed, forwarded = service.published(INBOX_HANDOFFS, "t")
    assert (handed.type, handed.data.reason, handed.data.assignee) == (
        "thread.handed_off",
        HandoffReason.TRIGGER,
        Assignee(kind=AssigneeKind.TEAM, id="sales"),
    )
    assert [entry.text for entry in handed.data.transcript] == ["How much is it?", "10 kr.", "Let me talk to a person"]
    assert (forwarded.type, forwarded.data.message.message_id) == ("message.forwarded", "q3")
    assert [event.data.reason for event in service.published(CONVERSATIONS_EVENTS, "t")] == [HandoffReason.TRIGGER]
    assert [event.data.kind for event in service.published(CHANNELS_OUTBOUND, "t")] == ["availability"]
    assert service.thread("t") == (ThreadState.HUMAN, SALES)
    assert service.loads() == {SALES: 1}


async def test_a_full_team_sends_the_next_thread_to_the_unassigned_view_until_the_inbox_closes_one() -> None:
    service = routing()
    await service.configure(
        to(SALES),
        paused=True,
        users=[HandoffUser(id="ada", paid_seat=True, team_ids=["sales"])],
        teams=[HandoffTeam(id="sales", member_ids=["ada"], max_capacity=1)],
        handoff=NOTICES,
    )
    await service.say("first", "a1")
    await service.say("second", "b1")
    await service.conversation.handle(conversation(CONVERSATION_RESOLVED, "second"))  # never closes a human's
    closed = ThreadClosed(
        account_id=ACCOUNT, thread_id="first", closed_by=ClosedBy(kind="user", id="ada"), resolved=True
    )
    assert await service.inbox(THREAD_CLOSED, closed)
    assert not await service.inbox(THREAD_CLOSED, closed.model_copy())  # closed already: nothing to free
    await service.say("third", "c1")

    assert [service.thread(thread) for thread in ("first", "second", "third")] == [
        (ThreadState.CLOSED, SALES),
        (ThreadState.UNASSIGNED, None),
        (ThreadState.HUMAN, SALES),
    ]
    assert service.loads() == {SALES: 1}
    notices = [service.published(CHANNELS_OUTBOUND, thread)[0].data for thread in ("first", "second", "third")]
    assert [(notice.text, notice.powered_by_ai) for notice in notices] == [
        ("available", False),
        ("at capacity", False),
        ("available", False),
    ]


async def test_who_is_available_is_judged_on_routings_clock_not_at_the_time_the_message_says() -> None:
    weekdays = WorkingHours(intervals=[WorkingInterval(day=day, start="09:00", end="17:00") for day in range(5)])
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    on_shift, off_shift = routing(clock=NOW), routing(clock=saturday)  # NOW: Monday 10:00 UTC
    for service in (on_shift, off_shift):
        await service.configure(
            to(ADA),
            users=[HandoffUser(id="ada", paid_seat=True, working_hours=weekdays)],
            handoff=NOTICES.model_copy(update={"triggers": ["talk to a person"]}),
        )

    await on_shift.inbound.handle(message("queued", "q1", "talk to a person", sent_at=saturday))
    await off_shift.inbound.handle(message("ahead", "a1", "talk to a person", sent_at=NOW))  # a clock ahead
    await off_shift.say("asked", "k1")
    await off_shift.conversation.handle(conversation(CONVERSATION_CANNOT_ANSWER, "asked", occurred_at=NOW))

    assert on_shift.thread("queued") == (ThreadState.HUMAN, ADA)
    assert [event.data.text for event in on_shift.published(CHANNELS_OUTBOUND, "queued")] == ["available"]
    handed = on_shift.published(INBOX_HANDOFFS, "queued")[0].data
    assert [entry.at for entry in handed.transcript] == [saturday]  # the message keeps its own time
    assert [off_shift.thread(thread) for thread in ("ahead", "asked")] == [(ThreadState.UNASSIGNED, None)] * 2
    notices = [off_shift.published(CHANNELS_OUTBOUND, thread)[0].data.text for thread in ("ahead", "asked")]
    assert notices == ["outside hours", "outside hours"]


async def test_a_reassigned_thread_moves_its_place_and_a_returned_one_goes_back_to_the_agent() -> None:
    service = routing()
    users = [HandoffUser(id="ada", paid_seat=True), HandoffUser(id="bo", paid_seat=True)]
    await service.configure(to(ADA, BO), paused=True, users=users)
    await service.say("t", "m1")  # the least loaded, ada on a tie
    assert service.loads() == {ADA: 1}

    bo = Assignee(kind=AssigneeKind.USER, id="bo")
    assert await service.inbox(THREAD_REASSIGNED, ThreadReassigned(account_id=ACCOUNT, thread_id="t", assignee=bo))
    assert (service.thread("t"), service.loads()) == ((ThreadState.HUMAN, BO), {BO: 1})

    assert await service.inbox(THREAD_RETURNED, ThreadReturned(account_id=ACCOUNT, thread_id="t"))
    assert (service.thread("t"), service.loads()) == ((ThreadState.AGENT, None), {})
    assert await service.say("t", "m2") is Outcome.ASSIGNED_TO_AGENT  # the agent's again, even while paused
    steps = [(step.step.from_state, step.step.to_state) for step in service.database.tables.transitions][-2:]
    assert steps == [(ThreadState.HUMAN, ThreadState.HUMAN), (ThreadState.HUMAN, ThreadState.AGENT)]
    assert not await service.inbox(THREAD_RETURNED, ThreadReturned(account_id=ACCOUNT, thread_id="unknown"))


async def test_exhausted_credits_send_new_threads_to_people_while_the_agent_keeps_its_own() -> None:
    service = routing()
    await service.configure()  # nobody named: the unassigned view
    await service.say("open", "o1")

    assert await service.credits(exhausted=True, version=5)
    assert await service.say("fresh", "f1") is Outcome.HANDED_OFF
    assert await service.say("open", "o2") is Outcome.ASSIGNED_TO_AGENT
    assert not await service.credits(exhausted=False, version=4)  # older: ignored
    assert await service.say("later", "l1") is Outcome.HANDED_OFF
    assert await service.credits(exhausted=False, version=6)
    assert await service.say("after", "a1") is Outcome.ASSIGNED_TO_AGENT

    handed = service.published(INBOX_HANDOFFS, "fresh")
    assert [(event.data.reason, event.data.assignee.kind) for event in handed] == [
        (HandoffReason.CREDITS_EXHAUSTED, AssigneeKind.UNASSIGNED)
    ]
    assert [event.data.powered_by_ai for event in service.published(CHANNELS_OUTBOUND, "fresh")] == [False]
    assert not service.database.tables.threads[(ACCOUNT, "fresh")].powered_by_ai


async def test_cannot_answer_hands_off_and_resolution_closes_only_an_agents_thread() -> None:
    service = routing()
    await service.configure(to(ADA), users=[HandoffUser(id="ada", paid_seat=True)])
    await service.say("missed", "m1")
    await service.say("quiet", "q1")

    decision = await service.conversation.handle(
        conversation(CONVERSATION_CANNOT_ANSWER, "missed", reason=HandoffReason.CANNOT_ANSWER)
    )
    for thread in ("missed", "quiet"):
        await service.conversation.handle(conversation(CONVERSATION_RESOLVED, thread))

    assert decision is not None
    assert decision.outcome is Outcome.HANDED_OFF
    assert [event.data.reason for event in service.published(INBOX_HANDOFFS, "missed")] == [HandoffReason.CANNOT_ANSWER]
    assert service.thread("missed") == (ThreadState.HUMAN, ADA)
    assert service.thread("quiet") == (ThreadState.CLOSED, None)
    assert await service.conversation.handle(conversation(CONVERSATION_CANNOT_ANSWER, "never-routed")) is None


async def test_a_handoff_to_a_user_with_an_unusual_but_valid_id_builds_its_events() -> None:
    service = routing()
    user_id = "Ådá Lovelace <ada@example.com> " + "x" * 169  # 200 characters, spaces, no control character
    await service.configure(to((AssigneeKind.USER, user_id)), users=[HandoffUser(id=user_id, paid_seat=True)])
    await service.say("t", "m1")

    await service.conversation.handle(conversation(CONVERSATION_CANNOT_ANSWER, "t", reason=HandoffReason.CANNOT_ANSWER))
    assert await service.say("t", "m2") is Outcome.FORWARDED_TO_INBOX

    handed, forwarded = service.published(INBOX_HANDOFFS, "t")
    assert handed.data.assignee == forwarded.data.assignee == Assignee(kind=AssigneeKind.USER, id=user_id)
    assert service.thread("t") == (ThreadState.HUMAN, (AssigneeKind.USER, user_id))


async def test_a_snapshot_admin_api_stored_with_a_tab_in_a_user_id_hands_off_to_the_usable_people() -> None:
    service = routing()
    snapshot = AgentConfigSnapshot(account_id=ACCOUNT, version=1, updated_at=NOW, channels=[], users=[])
    body = json.loads(
        serialize_event(make_event(AGENT_CONFIG_SNAPSHOT, snapshot, source="admin-api", account_id=ACCOUNT))
    )
    users = [{"id": "ada\t", "paid_seat": True}, {"id": "ada", "paid_seat": True}]
    targets = [{"kind": "user", "id": "ada\t"}, {"kind": "user", "id": "ada"}]  # ties go to the first
    channel = {"type": WEB.type, "id": WEB.id, "handoff": {"mode": "handoff", "assign_to": targets}}
    body["data"].update(users=users, channels=[channel])  # as admin-api published it before ids were checked
    assert await service.account_state.fold_config(
        "agent.config.v1", parse_event(json.dumps(body), AgentConfigSnapshot)
    )
    await service.say("t", "m1")

    await service.conversation.handle(conversation(CONVERSATION_CANNOT_ANSWER, "t", reason=HandoffReason.CANNOT_ANSWER))

    [handed] = service.published(INBOX_HANDOFFS, "t")
    assert handed.data.assignee == Assignee(kind=AssigneeKind.USER, id="ada")
    assert service.thread("t") == (ThreadState.HUMAN, ADA)
