"""The draft: saved and validated beside the live configuration, published (a snapshot and an audit entry,
as any edit), unpublished; replays started as jobs and completed by conversation's and routing's verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from admin_api.adapters.draft_repositories import ReplayRecord
from customer_agent_shared.events.channels import (
    Assignee,
    AssigneeKind,
    ChannelRef,
    ChannelType,
    Citation,
    HandoffReason,
    OutboundKind,
)
from customer_agent_shared.events.envelope import RawCloudEvent, make_event, parse_envelope, serialize_event
from customer_agent_shared.events.replay import (
    REPLAY_ANSWERED,
    REPLAY_ROUTED,
    ReplayAnswered,
    ReplayedQuestion,
    ReplayRouted,
    ReplayVerdict,
    RoutedQuestion,
    RoutingVerdict,
)
from customer_agent_shared.topics import AGENT_CONFIG, AGENT_REPLAY, AGENT_REPLAY_RESULTS

from .harness import Account, Harness, audit_trail, events_for, read_from, topic_ends

pytestmark = pytest.mark.integration

PROFILE = {"name": "Ava", "role": "customer_service", "personality": "friendly"}
WEB = {"type": "live_chat", "id": "web", "handoff": {"mode": "handoff", "assign_to": [], "update_avatar": True}}


async def _account_with_channel(harness: Harness) -> Account:
    account = await harness.new_account()
    deployed = await harness.client.post(account.path("/channels"), json=WEB, headers=account.edit)
    assert deployed.status_code == 201, deployed.text
    return account


async def _draft(harness: Harness, account: Account, body: dict[str, Any], **headers: str) -> Any:
    return await harness.client.put(account.path("/agent/draft"), json=body, headers={**account.edit, **headers})


async def test_a_draft_is_validated_like_the_live_endpoints_and_changes_nothing_live(harness: Harness) -> None:
    client, account = harness.client, await _account_with_channel(harness)
    empty = await client.get(account.path("/agent/draft"), headers=account.read)
    assert empty.status_code == 200
    assert (empty.json()["changes"], empty.json()["agent"]["name"]) == ([], "Customer Agent")

    saved = await _draft(
        harness,
        account,
        {"agent": {**PROFILE, "answer_threshold": 0.9}, "handoff": {"triggers": [" refund ", "Refund"]}},
        **{"If-Match": empty.headers["ETag"]},
    )
    assert saved.status_code == 200, saved.text
    draft = saved.json()
    assert draft["changes"] == ["agent", "handoff"]
    assert (draft["agent"]["answer_threshold"], draft["handoff"]["triggers"]) == (0.9, ["refund"])
    live_agent = (await client.get(account.path("/agent"), headers=account.read)).json()
    live_handoff = (await client.get(account.path("/handoff"), headers=account.read)).json()
    assert (live_agent["name"], live_agent["answer_threshold"], live_handoff["triggers"]) == (
        "Customer Agent",
        None,
        [],
    )
    # A profile without answer_threshold keeps the drafted one, as PUT /agent keeps the stored one.
    kept = await _draft(harness, account, {"agent": {**PROFILE, "name": "Bo"}})
    assert (kept.json()["agent"]["name"], kept.json()["agent"]["answer_threshold"]) == ("Bo", 0.9)

    refusals = {
        "stale If-Match": (await _draft(harness, account, {"agent": PROFILE}, **{"If-Match": saved.headers["ETag"]})),
        "unknown channel": await _draft(harness, account, {"channels": [{"id": "nope", "handoff": WEB["handoff"]}]}),
        "unknown team": await _draft(
            harness,
            account,
            {"channels": [{"id": "web", "handoff": {"mode": "handoff", "assign_to": [{"kind": "team", "id": "x"}]}}]},
        ),
        "bad language": await _draft(harness, account, {"handoff": {"messages": {"not a tag": WEB_MESSAGES}}}),
        "read key": await client.put(account.path("/agent/draft"), json={"agent": PROFILE}, headers=account.read),
    }
    assert {what: response.status_code for what, response in refusals.items()} == {
        "stale If-Match": 412,
        "unknown channel": 404,
        "unknown team": 422,
        "bad language": 422,
        "read key": 403,
    }

    assert (await client.delete(account.path("/agent/draft"), headers=account.edit)).status_code == 204
    assert (await client.get(account.path("/agent/draft"), headers=account.read)).json()["changes"] == []
    assert await audit_trail(harness, account, target_type="draft") == [
        ("draft", "create", "draft"),
        ("draft", "edit", "draft"),
        ("draft", "delete", "draft"),
    ]


WEB_MESSAGES = {
    "available": "A",
    "away": "B",
    "at_capacity": "C",
    "outside_hours": "D",
}


async def test_publish_makes_the_draft_live_and_unpublish_brings_the_live_configuration_back(harness: Harness) -> None:
    client, account = harness.client, await _account_with_channel(harness)
    servers = harness.settings.kafka_bootstrap_servers
    config_offsets = await topic_ends(servers, AGENT_CONFIG)
    assert (await client.post(account.path("/agent/publish"), headers=account.edit)).json()["error"]["code"] == (
        "empty_draft"
    )
    saved = await _draft(harness, account, {"handoff": {"triggers": ["refund"]}})

    published = await client.post(
        account.path("/agent/publish"), headers={**account.edit, "If-Match": saved.headers["ETag"]}
    )
    assert published.status_code == 200, published.text
    assert published.json()["sections"] == ["handoff"]
    assert (await client.get(account.path("/handoff"), headers=account.read)).json()["triggers"] == ["refund"]
    assert (await client.get(account.path("/agent/draft"), headers=account.read)).json()["changes"] == []
    version = published.json()["version"]
    records = await read_from(
        servers,
        AGENT_CONFIG,
        config_offsets,
        lambda found: any(e["data"]["version"] == version for e in events_for(found, account.id)),
    )
    assert events_for(records, account.id)[-1]["data"]["handoff"]["triggers"] == ["refund"]

    unpublished = await client.post(account.path("/agent/unpublish"), headers=account.edit)
    assert unpublished.status_code == 200, unpublished.text
    assert unpublished.json() == {"version": version + 1, "sections": ["handoff"]}
    assert (await client.get(account.path("/handoff"), headers=account.read)).json()["triggers"] == []
    back = (await client.get(account.path("/agent/draft"), headers=account.read)).json()
    assert (back["changes"], back["handoff"]["triggers"]) == (["handoff"], ["refund"])  # the draft again
    again = await client.post(account.path("/agent/unpublish"), headers=account.edit)
    assert (again.status_code, again.json()["error"]["code"]) == (409, "nothing_to_unpublish")

    log = await client.get(account.path("/audit-log"), params={"target_type": "agent"}, headers=account.read)
    entries = [(e["action"], e["before"], e["after"]) for e in reversed(log.json()["items"])]
    assert [action for action, _, _ in entries] == ["publish", "unpublish"]
    assert entries[0][1]["handoff"]["triggers"] == []
    assert entries[0][2]["handoff"]["triggers"] == ["refund"]


async def test_publishing_refuses_a_draft_whose_section_changed_live_until_it_is_saved_again(
    harness: Harness,
) -> None:
    client, account = harness.client, await _account_with_channel(harness)
    await _draft(harness, account, {"handoff": {"triggers": ["refund"]}})
    live = await client.put(account.path("/handoff"), json={"triggers": ["human"]}, headers=account.edit)
    assert live.status_code == 200

    draft = (await client.get(account.path("/agent/draft"), headers=account.read)).json()
    assert draft["conflicts"] == ["handoff"]
    refused = await client.post(account.path("/agent/publish"), headers=account.edit)
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "draft_conflict")
    assert "handoff settings" in refused.json()["error"]["message"]

    await _draft(harness, account, {"handoff": {"triggers": ["human", "refund"]}})
    assert (await client.post(account.path("/agent/publish"), headers=account.edit)).status_code == 200
    assert (await client.get(account.path("/handoff"), headers=account.read)).json()["triggers"] == ["human", "refund"]


async def test_a_replay_starts_as_a_job_asking_conversation_and_one_at_a_time(harness: Harness) -> None:
    client, account = harness.client, await _account_with_channel(harness)
    servers = harness.settings.kafka_bootstrap_servers
    nothing = await client.post(account.path("/agent/draft/replay"), json={}, headers=account.edit)
    assert (nothing.status_code, nothing.json()["error"]["code"]) == (409, "empty_draft")
    saved = await _draft(harness, account, {"agent": {**PROFILE, "answer_threshold": 0.95}})
    offsets = await topic_ends(servers, AGENT_REPLAY)

    started = await client.post(account.path("/agent/draft/replay"), json={"limit": 50}, headers=account.edit)
    assert started.status_code == 202, started.text
    replay = started.json()
    assert (replay["state"], replay["limit"], replay["draft_etag"]) == ("running", 50, saved.headers["ETag"])
    assert started.headers["Location"] == account.path(f"/agent/draft/replays/{replay['id']}")
    read = await client.get(started.headers["Location"], headers=account.read)
    assert read.json()["id"] == replay["id"]
    assert (await client.post(account.path("/agent/draft/replay"), headers=account.read)).status_code == 403
    too_many = await client.post(account.path("/agent/draft/replay"), json={"limit": 501}, headers=account.edit)
    assert too_many.status_code == 422

    records = await read_from(servers, AGENT_REPLAY, offsets, lambda found: bool(events_for(found, account.id)))
    request = events_for(records, account.id, "replay.requested")[0]["data"]
    assert (request["replay_id"], request["limit"]) == (replay["id"], 50)
    assert request["live"]["agent"]["answer_threshold"] is None
    assert request["draft"]["agent"]["answer_threshold"] == 0.95

    # One replay at a time (a conversation process may finish the one above at once: this one never goes out).
    busy = await _account_with_channel(harness)
    await _draft(harness, busy, {"agent": {**PROFILE, "answer_threshold": 0.95}})
    running = await _running_replay(harness, busy)
    second = await client.post(busy.path("/agent/draft/replay"), headers=busy.edit)
    assert (second.status_code, second.json()["error"]["code"]) == (409, "replay_running")
    assert running.id in second.json()["error"]["message"]


def _question(position: int, text: str, live: ReplayVerdict, draft: ReplayVerdict) -> ReplayedQuestion:
    return ReplayedQuestion(
        position=position,
        thread_id=f"thread-{position}",
        message_id=f"msg-{position}",
        channel=ChannelRef(type=ChannelType.LIVE_CHAT, id="web"),
        text=text,
        language="en",
        asked_at=datetime.now(UTC) - timedelta(minutes=position),
        live=live,
        draft=draft,
    )


def _raw(event_type: str, data: ReplayAnswered | ReplayRouted, source: str) -> RawCloudEvent:
    return parse_envelope(serialize_event(make_event(event_type, data, source=source, account_id=data.account_id)))


async def _running_replay(harness: Harness, account: Account, *, age_seconds: float = 0) -> ReplayRecord:
    """A replay as ``POST /agent/draft/replay`` stores it, without the request going out: on a shared stack
    another conversation process could answer it first."""
    api = harness.service.api
    assert api is not None
    view = await api.drafts.get(account.id)
    live = await api.configuration.current(account.id)
    record = ReplayRecord(
        id=f"rpl_{account.id}",
        account_id=account.id,
        state="answering",
        question_limit=200,
        draft_etag=view.etag,
        live_version=view.live_version,
        requested_by="key",
        requested_at=datetime.now(UTC) - timedelta(seconds=age_seconds),
        configs={"live": live.model_dump(mode="json"), "draft": view.config.model_dump(mode="json")},
    )
    async with harness.service.unit_of_work() as uow:
        await uow.replays.add(record)
        await uow.commit()
    return record


async def test_conversations_then_routings_verdicts_complete_the_report(harness: Harness) -> None:
    client, account = harness.client, await _account_with_channel(harness)
    servers = harness.settings.kafka_bootstrap_servers
    await _draft(harness, account, {"handoff": {"triggers": ["refund"]}})
    record = await _running_replay(harness, account)
    api = harness.service.api
    assert api is not None
    consumer = f"test:{AGENT_REPLAY_RESULTS}"
    cited = [Citation(title="Returns", url="https://shop.example/returns")]
    answer = ReplayVerdict(kind=OutboundKind.ANSWER, answered=True, citations=cited, confidence=0.8)
    answered = ReplayAnswered(
        account_id=account.id,
        replay_id=record.id,
        questions=[_question(0, "I want a refund", answer, answer), _question(1, "Where are you?", answer, answer)],
        available=2,
    )
    offsets = await topic_ends(servers, AGENT_REPLAY)

    conversation_result = _raw(REPLAY_ANSWERED, answered, "conversation")
    assert await api.replays.apply_result(consumer, conversation_result)
    assert not await api.replays.apply_result(consumer, conversation_result)  # a repeat does nothing
    midway = (await client.get(account.path(f"/agent/draft/replays/{record.id}"), headers=account.read)).json()
    assert (midway["state"], midway["summary"]) == ("running", None)
    records = await read_from(servers, AGENT_REPLAY, offsets, lambda found: bool(events_for(found, account.id)))
    ask_routing = events_for(records, account.id, "replay.routing_requested")[0]["data"]
    assert [q["text"] for q in ask_routing["questions"]] == ["I want a refund", "Where are you?"]
    assert ask_routing["draft"]["handoff"]["triggers"] == ["refund"]

    # A routing process of the stack may have answered the request already, with these very verdicts.
    await api.replays.apply_result(consumer, _raw(REPLAY_ROUTED, _refund_triggers_in_the_draft(record), "routing"))
    await _check_the_report(harness, account, record.id, cited=cited)
    await _draft(harness, account, {"handoff": {"triggers": ["refund", "money back"]}})
    later = (await client.get(account.path(f"/agent/draft/replays/{record.id}"), headers=account.read)).json()
    assert later["draft_current"] is False


def _refund_triggers_in_the_draft(record: ReplayRecord) -> ReplayRouted:
    """Routing's verdicts: the agent keeps both questions live; under the draft 'refund' is a trigger."""
    kept = RoutingVerdict(outcome="assigned_to_agent")
    trigger = RoutingVerdict(
        outcome="handed_off",
        reason=HandoffReason.TRIGGER,
        assignee=Assignee(kind=AssigneeKind.UNASSIGNED),
        trigger="refund",
    )
    return ReplayRouted(
        account_id=record.account_id,
        replay_id=record.id,
        questions=[
            RoutedQuestion(position=0, live=kept, draft=trigger),
            RoutedQuestion(position=1, live=kept, draft=kept),
        ],
    )


async def _check_the_report(harness: Harness, account: Account, replay_id: str, *, cited: list[Citation]) -> None:
    """The replay is done, its draft current, and the refund question is its one change (now a handoff)."""
    done = (await harness.client.get(account.path(f"/agent/draft/replays/{replay_id}"), headers=account.read)).json()
    assert (done["state"], done["complete"], done["routing_compared"], done["draft_current"]) == (
        "done",
        True,
        True,
        True,
    )
    assert done["summary"] == {
        "replayed": 2,
        "changed": 1,
        "unchanged": 1,
        "answered_to_declined": 1,
        "declined_to_answered": 0,
        "citations_changed": 0,
        "handoff_reason_changed": 1,
        "handoff_target_changed": 0,
    }
    (change,) = done["changes"]
    assert change["question"] == "I want a refund"
    assert change["live"] == {
        "answered": True,
        "reply": "answer",
        "citations": [c.model_dump() for c in cited],
        "handoff": None,
    }
    assert change["draft"]["handoff"]["trigger"] == "refund"


async def test_a_replay_nobody_answers_fails_and_one_routing_missed_reports_the_agents_part(
    harness: Harness,
) -> None:
    client, account = harness.client, await _account_with_channel(harness)
    other = await _account_with_channel(harness)
    timeout = harness.settings.replay_timeout_seconds
    await _draft(harness, account, {"agent": {**PROFILE, "answer_threshold": 0.99}})
    await _draft(harness, other, {"agent": {**PROFILE, "answer_threshold": 0.99}})
    silent = await _running_replay(harness, account, age_seconds=timeout + 1)

    failed = (await client.get(account.path(f"/agent/draft/replays/{silent.id}"), headers=account.read)).json()
    assert failed["state"] == "failed"
    assert "did not replay the questions" in failed["error"]

    half = await _running_replay(harness, other, age_seconds=timeout + 1)
    answer = ReplayVerdict(kind=OutboundKind.ANSWER, answered=True, confidence=0.8)
    rephrase = ReplayVerdict(kind=OutboundKind.REPHRASE_REQUEST, answered=False, confidence=0.8)
    answered = ReplayAnswered(
        account_id=other.id, replay_id=half.id, questions=[_question(0, "Hours?", answer, rephrase)], available=1
    )
    api = harness.service.api
    assert api is not None
    await api.replays.apply_result(f"test:{AGENT_REPLAY_RESULTS}", _raw(REPLAY_ANSWERED, answered, "conversation"))
    report = (await client.get(other.path(f"/agent/draft/replays/{half.id}"), headers=other.read)).json()
    assert (report["state"], report["routing_compared"]) == ("done", False)
    assert report["summary"]["answered_to_declined"] == 1
    assert any("Routing did not answer" in note for note in report["notes"])
    unknown = await client.get(other.path("/agent/draft/replays/rpl_nope"), headers=other.read)
    assert unknown.status_code == 404
    foreign = await client.get(other.path(f"/agent/draft/replays/{silent.id}"), headers=other.read)
    assert foreign.status_code == 404


async def test_starting_a_replay_ends_an_expired_one_and_old_replays_are_deleted(harness: Harness) -> None:
    client, account = harness.client, await _account_with_channel(harness)
    api = harness.service.api
    assert api is not None
    await _draft(harness, account, {"agent": {**PROFILE, "answer_threshold": 0.99}})
    expired = await _running_replay(harness, account, age_seconds=harness.settings.replay_timeout_seconds + 1)

    started = await client.post(account.path("/agent/draft/replay"), headers=account.edit)

    assert started.status_code == 202
    async with harness.service.unit_of_work() as uow:
        ended = await uow.replays.get(account.id, expired.id)
    assert ended is not None
    assert (ended.state, ended.configs, ended.finished_at is not None) == ("failed", None, True)

    retention = timedelta(days=harness.settings.replay_retention_days)
    async with harness.service.unit_of_work() as uow:
        ended.requested_at = datetime.now(UTC) - retention - timedelta(minutes=1)
        await uow.replays.save(ended)
        await uow.commit()
    await api.replays.prune()

    async with harness.service.unit_of_work() as uow:
        assert await uow.replays.get(account.id, expired.id) is None
        assert await uow.replays.get(account.id, started.json()["id"]) is not None
