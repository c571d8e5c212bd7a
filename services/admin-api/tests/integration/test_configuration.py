"""Agent profile, pause/resume/status, channels, users, teams and handoff settings: every change
is a new full snapshot on agent.config.v1 (read by a real consumer) and an audit entry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest
from customer_agent_shared.events.audit import AUDIT_RECORDED, AuditRecorded
from customer_agent_shared.events.billing import CREDITS_EXHAUSTED, CreditState
from customer_agent_shared.events.envelope import make_event, serialize_event
from customer_agent_shared.testing.kafka import ReceivedRecord, produce_raw
from customer_agent_shared.topics import AGENT_CONFIG, AUDIT, BILLING_CREDIT_STATE

from .harness import Account, Harness, audit_trail, events_for, get_until, read_from, topic_ends

pytestmark = pytest.mark.integration


async def test_profile_change_publishes_a_new_snapshot_and_is_conditional(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    config_offsets = await topic_ends(servers, AGENT_CONFIG)
    audit_offsets = await topic_ends(servers, AUDIT)

    current = await client.get(account.path("/agent"), headers=account.read)
    assert current.json() == {
        "name": "Customer Agent",
        "role": "customer_service",
        "personality": "friendly",
        "answer_threshold": None,
    }
    etag = current.headers["ETag"]
    body = {"name": "Ada", "role": "sales_representative", "personality": "witty"}
    saved = await client.put(account.path("/agent"), json=body, headers={**account.edit, "If-Match": etag})
    assert saved.status_code == 200, saved.text
    assert saved.json() == {**body, "answer_threshold": None}
    assert saved.headers["ETag"] != etag

    stale = await client.put(
        account.path("/agent"), json={**body, "name": "Bob"}, headers={**account.edit, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "precondition_failed"
    invalid = await client.put(account.path("/agent"), json={**body, "role": "pirate"}, headers=account.edit)
    assert invalid.status_code == 422
    assert "role" in invalid.json()["error"]["message"]
    assert (await client.get(account.path("/agent"), headers=account.read)).json()["name"] == "Ada"

    records = await read_from(
        servers,
        AGENT_CONFIG,
        config_offsets,
        lambda found: any(e["data"]["agent"]["name"] == "Ada" for e in events_for(found, account.id)),
    )
    mine = [r for r in records if events_for([r], account.id)]
    assert {r.key for r in mine} == {account.id.encode()}  # compacted per account
    snapshots = events_for(records, account.id, "agent.config.snapshot")
    latest = snapshots[-1]
    assert latest["data"]["version"] == 2  # 1 = account creation
    assert latest["data"]["agent"] == {**body, "answer_threshold": None}
    assert {"en", "da", "nl", "de", "fr", "es"} <= set(latest["data"]["handoff"]["messages"])
    audit_records = await read_from(servers, AUDIT, audit_offsets, lambda found: bool(events_for(found, account.id)))
    change = events_for(audit_records, account.id, "audit.recorded")[0]["data"]
    assert change["before"]["name"] == "Customer Agent"
    assert change["after"]["name"] == "Ada"
    assert await audit_trail(harness, account, target_type="agent") == [("agent", "edit", "profile")]


async def test_answer_threshold_is_validated_stored_published_and_kept_by_a_put_without_it(
    harness: Harness,
) -> None:
    client, account = harness.client, await harness.new_account()
    servers = harness.settings.kafka_bootstrap_servers
    config_offsets = await topic_ends(servers, AGENT_CONFIG)
    profile = {"name": "Ada", "role": "customer_service", "personality": "professional"}

    for wrong, problem in ((1.5, "less than or equal to 1"), (-0.1, "greater than or equal to 0"), ("high", "number")):
        refused = await client.put(
            account.path("/agent"), json={**profile, "answer_threshold": wrong}, headers=account.edit
        )
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["code"] == "validation_error"
        assert "answer_threshold: Input should be" in error["message"]
        assert problem in error["message"]
        assert [detail["field"] for detail in error["details"]] == ["answer_threshold"]

    strict = await client.put(account.path("/agent"), json={**profile, "answer_threshold": 0.9}, headers=account.edit)
    assert strict.status_code == 200, strict.text
    assert strict.json()["answer_threshold"] == 0.9
    read = await client.get(account.path("/agent"), headers=account.read)
    assert read.json() == {**profile, "answer_threshold": 0.9}
    assert read.headers["ETag"] == strict.headers["ETag"]

    renamed = await client.put(account.path("/agent"), json={**profile, "name": "Bob"}, headers=account.edit)
    assert renamed.json() == {**profile, "name": "Bob", "answer_threshold": 0.9}  # left out: kept
    reset = await client.put(
        account.path("/agent"), json={**profile, "name": "Bob", "answer_threshold": None}, headers=account.edit
    )
    assert reset.json()["answer_threshold"] is None  # null: the service default again
    assert (await client.get(account.path("/agent"), headers=account.read)).json()["answer_threshold"] is None

    def changes(found: list[ReceivedRecord]) -> dict[int, float | None]:
        snapshots = events_for(found, account.id, "agent.config.snapshot")
        return {
            e["data"]["version"]: e["data"]["agent"]["answer_threshold"] for e in snapshots if e["data"]["version"] > 1
        }

    records = await read_from(servers, AGENT_CONFIG, config_offsets, lambda found: len(changes(found)) >= 3)
    assert changes(records) == {2: 0.9, 3: 0.9, 4: None}  # 1 = account creation
    log = (await client.get(account.path("/audit-log"), params={"target_type": "agent"}, headers=account.read)).json()
    trail = [(entry["before"]["answer_threshold"], entry["after"]["answer_threshold"]) for entry in log["items"]]
    assert list(reversed(trail)) == [(None, 0.9), (0.9, 0.9), (0.9, None)]


async def test_pause_resume_and_credit_exhaustion_status(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    status = await client.get(account.path("/agent/status"), headers=account.read)
    assert status.json() == {"status": "running", "paused": False, "credits_exhausted": False}
    paused = await client.post(account.path("/agent/pause"), headers=account.edit)
    assert paused.json()["status"] == "paused_manual"
    config = await harness.service.api.configuration.current(account.id)  # type: ignore[union-attr]
    assert config.paused is True
    resumed = await client.post(account.path("/agent/resume"), headers=account.edit)
    assert resumed.json()["status"] == "running"

    now = datetime.now(UTC)
    for version, exhausted, balance in ((5, True, 0), (4, False, 99)):  # the older state arrives late: ignored
        state = CreditState(
            account_id=account.id,
            balance=balance,
            allotment=100,
            used_this_period=100,
            reset_at=now + timedelta(days=3),
            exhausted=exhausted,
            version=version,
        )
        event = make_event(CREDITS_EXHAUSTED, state, source="billing-test", account_id=account.id)
        await produce_raw(
            harness.settings.kafka_bootstrap_servers,
            BILLING_CREDIT_STATE,
            serialize_event(event),
            key=account.id.encode(),
        )
    await get_until(harness, account, "/credits", lambda body: body.get("balance") == 0)
    credits = (await client.get(account.path("/credits"), headers=account.read)).json()
    assert credits["known"] is True
    assert credits["exhausted"] is True
    assert credits["allotment"] == 100
    status = await client.get(account.path("/agent/status"), headers=account.read)
    assert status.json() == {"status": "paused_credits_exhausted", "paused": False, "credits_exhausted": True}
    assert await audit_trail(harness, account, target_type="agent") == [
        ("agent", "edit", "paused"),
        ("agent", "edit", "paused"),
    ]


async def test_channels_users_teams_and_paid_seats(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    await _put_users_and_teams(harness, account)
    await _add_channels(harness, account)

    demote = {"users": [{"id": "u-paid", "paid_seat": False}, {"id": "u-free"}]}
    refused = await client.put(account.path("/users"), json=demote, headers=account.edit)
    assert refused.status_code == 422
    assert "paid seat" in refused.json()["error"]["message"]
    await _change_a_rule_and_remove_a_channel(harness, account)

    config = await harness.service.api.configuration.current(account.id)  # type: ignore[union-attr]
    assert [c.id for c in config.channels] == ["web"]
    assert config.teams[0].max_capacity == 5
    assert await audit_trail(harness, account) == [
        ("account", "create", account.id),
        ("api_key", "create", _key_ids(await audit_trail(harness, account, target_type="api_key"))[0]),
        ("api_key", "create", _key_ids(await audit_trail(harness, account, target_type="api_key"))[1]),
        ("users", "edit", "users"),
        ("teams", "edit", "teams"),
        ("channel", "create", "web"),
        ("channel", "create", "wa"),
        ("channel", "edit", "web"),
        ("channel", "delete", "wa"),
    ]


async def _put_users_and_teams(harness: Harness, account: Account) -> None:
    """A paid user in the support team and an unpaid one; a user in an unknown time zone is refused."""
    client, edit = harness.client, account.edit
    users = {
        "users": [
            {
                "id": "u-paid",
                "name": "Ada",
                "paid_seat": True,
                "team_ids": ["support"],  # the team is created next
                "working_hours": {
                    "timezone": "Europe/Copenhagen",
                    "intervals": [{"day": 0, "start": "09:00", "end": "17:00"}],
                },
            },
            {"id": "u-free", "name": "Bob", "paid_seat": False},
        ]
    }
    assert (await client.put(account.path("/users"), json=users, headers=edit)).status_code == 200
    teams = {"teams": [{"id": "support", "name": "Support", "max_capacity": 5, "member_ids": ["u-paid"]}]}
    assert (await client.put(account.path("/teams"), json=teams, headers=edit)).status_code == 200
    bad_zone = [{"id": "u-x", "working_hours": {"timezone": "Mars/Base"}}]  # a bare list works too
    refused_zone = await client.put(account.path("/users"), json=bad_zone, headers=edit)
    assert refused_zone.status_code == 422
    assert "IANA" in refused_zone.json()["error"]["message"]
    assert (await client.get(account.path("/teams"), headers=account.read)).json()[0]["max_capacity"] == 5


def _live_chat(assign_to: list[dict[str, str]]) -> dict[str, object]:
    """The live chat channel 'web' handing off to ``assign_to``."""
    return {
        "type": "live_chat",
        "id": "web",
        "handoff": {"mode": "handoff", "assign_to": assign_to, "update_avatar": True},
    }


async def _add_channels(harness: Harness, account: Account) -> None:
    """Handoffs go only to paid users and known teams; the live chat and a WhatsApp number are added."""
    client, edit = harness.client, account.edit
    unpaid = await client.post(
        account.path("/channels"), json=_live_chat([{"kind": "user", "id": "u-free"}]), headers=edit
    )
    assert unpaid.status_code == 422
    assert "paid seat" in unpaid.json()["error"]["message"]
    unknown = await client.post(
        account.path("/channels"), json=_live_chat([{"kind": "team", "id": "ghosts"}]), headers=edit
    )
    assert unknown.status_code == 422
    assert "ghosts" in unknown.json()["error"]["message"]
    bad_type = await client.post(account.path("/channels"), json={**_live_chat([]), "type": "pigeon"}, headers=edit)
    assert bad_type.status_code == 422

    targets = [{"kind": "team", "id": "support"}, {"kind": "user", "id": "u-paid"}]
    created = await client.post(account.path("/channels"), json=_live_chat(targets), headers=edit)
    assert created.status_code == 201, created.text
    assert created.json()["handoff"]["assign_to"] == targets
    assert (await client.post(account.path("/channels"), json=_live_chat([]), headers=edit)).status_code == 409
    wa = await client.post(account.path("/channels"), json={"type": "whatsapp", "id": "wa"}, headers=edit)
    assert wa.status_code == 201
    listed = (await client.get(account.path("/channels"), headers=account.read)).json()["items"]
    assert [(c["type"], c["id"]) for c in listed] == [("live_chat", "web"), ("whatsapp", "wa")]


async def _change_a_rule_and_remove_a_channel(harness: Harness, account: Account) -> None:
    """The live chat's rule changes only under its current ETag; the WhatsApp channel is removed once."""
    client, edit = harness.client, account.edit
    read = await client.get(account.path("/channels/web"), headers=account.read)
    etag = read.headers["ETag"]
    new_rule = {"handoff": {"mode": "stay_assigned", "assign_to": [], "update_avatar": False}}
    updated = await client.put(account.path("/channels/web"), json=new_rule, headers={**edit, "If-Match": etag})
    assert updated.status_code == 200
    assert updated.json()["handoff"]["mode"] == "stay_assigned"
    stale = await client.put(account.path("/channels/web"), json=new_rule, headers={**edit, "If-Match": etag})
    assert stale.status_code == 412
    assert (await client.delete(account.path("/channels/wa"), headers=edit)).status_code == 204
    assert (await client.delete(account.path("/channels/wa"), headers=edit)).status_code == 404


async def test_channel_ids_take_the_providers_form(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    ids = {"whatsapp": "+4512345678", "email": "support@acme.example", "custom": "pages/123 (main)"}
    for channel_type, channel_id in ids.items():
        created = await client.post(
            account.path("/channels"), json={"type": channel_type, "id": channel_id}, headers=account.edit
        )
        assert created.status_code == 201, created.text
        read = await client.get(account.path(f"/channels/{quote(channel_id, safe='')}"), headers=account.read)
        assert read.status_code == 200, read.text
        assert (read.json()["type"], read.json()["id"]) == (channel_type, channel_id)
    deleted = await client.delete(account.path(f"/channels/{quote(ids['custom'], safe='')}"), headers=account.edit)
    assert deleted.status_code == 204
    config = await harness.service.api.configuration.current(account.id)  # type: ignore[union-attr]
    assert [c.id for c in config.channels] == [ids["whatsapp"], ids["email"]]
    control = await client.post(account.path("/channels"), json={"type": "custom", "id": "a\tb"}, headers=account.edit)
    assert control.status_code == 422


async def test_handoff_settings_defaults_and_conditional_update(harness: Harness) -> None:
    client, account = harness.client, await harness.new_account()
    current = await client.get(account.path("/handoff"), headers=account.read)
    assert current.status_code == 200
    messages = current.json()["messages"]
    assert {"en", "da", "nl", "de", "fr", "es"} <= set(messages)
    assert all(messages[lang]["outside_hours"] for lang in messages)
    custom = {
        "available": "Gleich ist jemand da.",
        "away": "Weg.",
        "at_capacity": "Voll.",
        "outside_hours": "Geschlossen.",
        "handoff_unavailable": "Geht nicht.",
    }
    body = {"triggers": ["Human", "human", "talk to a person"], "messages": {"de": custom}}
    saved = await client.put(
        account.path("/handoff"), json=body, headers={**account.edit, "If-Match": current.headers["ETag"]}
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["triggers"] == ["Human", "talk to a person"]
    assert saved.json()["messages"]["de"]["away"] == "Weg."
    assert saved.json()["messages"]["en"] == messages["en"]
    stale = await client.put(
        account.path("/handoff"), json={"triggers": []}, headers={**account.edit, "If-Match": current.headers["ETag"]}
    )
    assert stale.status_code == 412
    missing_field = await client.put(
        account.path("/handoff"), json={"messages": {"en": {"available": "x"}}}, headers=account.edit
    )
    assert missing_field.status_code == 422
    bad_language = await client.put(account.path("/handoff"), json={"messages": {"!!": custom}}, headers=account.edit)
    assert bad_language.status_code == 422
    # DESIGN.md lists the messages once without handoff_unavailable: left out, the language keeps its own
    four = {key: text for key, text in custom.items() if key != "handoff_unavailable"}
    kept = await client.put(account.path("/handoff"), json={"messages": {"de": four}}, headers=account.edit)
    assert kept.status_code == 200, kept.text
    assert kept.json()["messages"]["de"]["handoff_unavailable"] == "Geht nicht."
    # a PUT changes only the languages it names; null gives a language its default messages back
    danish = await client.put(account.path("/handoff"), json={"messages": {"da": four}}, headers=account.edit)
    assert (danish.json()["messages"]["da"]["away"], danish.json()["messages"]["de"]["away"]) == ("Weg.", "Weg.")
    reset = (await client.put(account.path("/handoff"), json={"messages": {"de": None}}, headers=account.edit)).json()
    assert (reset["messages"]["de"], reset["messages"]["da"]["away"]) == (messages["de"], "Weg.")
    assert await audit_trail(harness, account, target_type="handoff") == [("handoff", "edit", "handoff")] * 4


def _key_ids(trail: list[tuple[str, str, str]]) -> list[str]:
    return [target_id for _, _, target_id in trail]


async def test_audit_records_of_other_services_join_the_log(harness: Harness) -> None:
    account = await harness.new_account()
    record = AuditRecorded(
        account_id=account.id,
        actor="billing",
        action="edit",
        target_type="credit_ledger",
        target_id="adjustment-1",
        before={"balance": 10},
        after={"balance": 20},
        at=datetime.now(UTC),
    )
    event = make_event(AUDIT_RECORDED, record, source="billing-test", account_id=account.id)
    # Delivered twice, then the next record of the account (same key, so handled after both): each kept once.
    following = make_event(
        AUDIT_RECORDED,
        record.model_copy(
            update={
                "target_id": "adjustment-2",
                "before": {"balance": 20},
                "after": {"balance": 25},
                "at": record.at + timedelta(seconds=1),
            }
        ),
        source="billing-test",
        account_id=account.id,
    )
    for delivered in (event, event, following):
        await produce_raw(
            harness.settings.kafka_bootstrap_servers, AUDIT, serialize_event(delivered), key=account.id.encode()
        )
    entries = await get_until(
        harness, account, "/audit-log?target_type=credit_ledger", lambda body: len(body["items"]) >= 2
    )
    assert [(e["target_id"], e["after"]) for e in entries["items"]] == [
        ("adjustment-2", {"balance": 25}),
        ("adjustment-1", {"balance": 20}),
    ]


async def test_request_bodies_outside_tools_send(harness: Harness) -> None:
    """The bodies of DESIGN.md and the end-to-end journey: bare lists for people, empty messages."""
    client, account = harness.client, await harness.new_account()
    users = [{"id": "u-anna", "name": "Anna", "paid_seat": True, "available": True, "team_ids": ["t-support"]}]
    assert (await client.put(account.path("/users"), json=users, headers=account.edit)).status_code == 200
    teams = [{"id": "t-support", "name": "Support", "member_ids": ["u-anna"]}]
    assert (await client.put(account.path("/teams"), json=teams, headers=account.edit)).status_code == 200
    rule = {"mode": "handoff", "assign_to": [{"kind": "user", "id": "u-anna"}], "update_avatar": True}
    deployed = await client.post(
        account.path("/channels"), json={"type": "live_chat", "id": "web", "handoff": rule}, headers=account.edit
    )
    assert deployed.status_code == 201, deployed.text
    handoff = await client.put(
        account.path("/handoff"), json={"triggers": ["speak to a human"], "messages": {}}, headers=account.edit
    )
    assert handoff.status_code == 200
    assert {"en", "da", "nl", "de", "fr", "es"} <= set(handoff.json()["messages"])
    people = (await client.get(account.path("/users"), headers=account.read)).json()
    assert people[0]["team_ids"] == ["t-support"]
    actions = {(action, target) for target, action, _ in await audit_trail(harness, account)}
    assert {("edit", "users"), ("edit", "teams"), ("create", "channel"), ("edit", "handoff")} <= actions
