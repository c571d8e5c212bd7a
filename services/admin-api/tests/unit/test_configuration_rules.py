"""Rules over the agent configuration: profile, handoff rules, users, teams, triggers, messages."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from admin_api.domain import configuration as rules
from admin_api.domain.errors import Conflict, InvalidRequest, NotFound
from admin_api.domain.handoff_defaults import DEFAULT_AVAILABILITY_MESSAGES, parse_defaults
from customer_agent_shared.events.channels import AssigneeKind, ChannelType
from customer_agent_shared.events.config import (
    AgentConfigSnapshot,
    AgentProfile,
    AvailabilityMessages,
    ChannelDeployment,
    HandoffMode,
    HandoffRule,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
    WorkingHours,
    WorkingInterval,
)

NOW = datetime(2026, 11, 21, 12, tzinfo=UTC)


def config() -> AgentConfigSnapshot:
    base = rules.new_account_config("acme", NOW)
    return base.model_copy(
        update={
            "users": [
                HandoffUser(id="paid", paid_seat=True, team_ids=["support"]),
                HandoffUser(id="free", paid_seat=False),
            ],
            "teams": [HandoffTeam(id="support", member_ids=["paid"])],
        }
    )


def rule(*targets: tuple[AssigneeKind, str], mode: HandoffMode = HandoffMode.HANDOFF) -> HandoffRule:
    return HandoffRule(mode=mode, assign_to=[HandoffTarget(kind=kind, id=i) for kind, i in targets])


def test_new_account_has_version_one_defaults_and_six_languages() -> None:
    fresh = rules.new_account_config("acme", NOW)
    assert fresh.version == 1
    assert not fresh.paused
    assert {"en", "da", "nl", "de", "fr", "es"} <= set(fresh.handoff.messages)


@pytest.mark.parametrize(
    ("handoff", "problem"),
    [
        (rule((AssigneeKind.USER, "free")), "no paid seat"),
        (rule((AssigneeKind.USER, "ghost")), "does not exist"),
        (rule((AssigneeKind.TEAM, "ghost")), "does not exist"),
        (rule((AssigneeKind.USER, "paid"), (AssigneeKind.USER, "paid")), "more than once"),
        (rule((AssigneeKind.UNASSIGNED, "x")), "users or teams"),
        (rule((AssigneeKind.USER, "paid"), mode=HandoffMode.STAY_ASSIGNED), "must be empty"),
    ],
)
def test_invalid_handoff_rules_are_refused_with_the_reason(handoff: HandoffRule, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        rules.deploy_channel(config(), ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web", handoff=handoff))


@pytest.mark.parametrize(
    "handoff",
    [
        rule(),
        rule((AssigneeKind.USER, "paid")),
        rule((AssigneeKind.TEAM, "support"), (AssigneeKind.USER, "paid")),
        rule(mode=HandoffMode.STAY_ASSIGNED),
    ],
)
def test_valid_rules_deploy(handoff: HandoffRule) -> None:
    deployed = rules.deploy_channel(config(), ChannelDeployment(type=ChannelType.EMAIL, id="mail", handoff=handoff))
    assert [channel.id for channel in deployed.channels] == ["mail"]


def test_channel_ids_are_unique_and_removal_needs_an_existing_channel() -> None:
    deployment = ChannelDeployment(type=ChannelType.WHATSAPP, id="wa")
    deployed = rules.deploy_channel(config(), deployment)
    with pytest.raises(Conflict):
        rules.deploy_channel(deployed, deployment)
    assert rules.remove_channel(deployed, "wa").channels == []
    with pytest.raises(NotFound):
        rules.remove_channel(deployed, "nope")


def test_a_user_named_in_a_rule_cannot_lose_the_paid_seat() -> None:
    deployed = rules.deploy_channel(
        config(), ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web", handoff=rule((AssigneeKind.USER, "paid")))
    )
    demoted = [HandoffUser(id="paid", paid_seat=False, team_ids=["support"]), HandoffUser(id="free")]
    with pytest.raises(InvalidRequest, match="paid seat"):
        rules.replace_users(deployed, demoted)


@pytest.mark.parametrize(
    ("users", "problem"),
    [
        ([HandoffUser(id="a"), HandoffUser(id="a")], "unique"),
        ([HandoffUser(id="free")], "still lists"),
        ([HandoffUser(id="paid", working_hours=WorkingHours(timezone="Mars/Olympus"))], "IANA"),
        (
            [
                HandoffUser(
                    id="paid",
                    working_hours=WorkingHours(intervals=[WorkingInterval(day=0, start="17:00", end="09:00")]),
                )
            ],
            "start before",
        ),
        (
            [
                HandoffUser(
                    id="paid",
                    working_hours=WorkingHours(intervals=[WorkingInterval(day=0, start="09:75", end="10:00")]),
                )
            ],
            "valid time",
        ),
    ],
)
def test_invalid_users_are_refused(users: list[HandoffUser], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        rules.replace_users(config(), users)


def test_whole_day_interval_and_copenhagen_are_accepted() -> None:
    hours = WorkingHours(timezone="Europe/Copenhagen", intervals=[WorkingInterval(day=6, start="00:00", end="24:00")])
    changed = rules.replace_users(
        config(), [HandoffUser(id="paid", paid_seat=True, working_hours=hours, team_ids=["support"])]
    )
    assert changed.users[0].working_hours.timezone == "Europe/Copenhagen"


@pytest.mark.parametrize(
    ("teams", "problem"),
    [
        ([HandoffTeam(id="t"), HandoffTeam(id="t")], "unique"),
        ([HandoffTeam(id="support", member_ids=["ghost"])], "unknown users"),
    ],
)
def test_invalid_teams_are_refused(teams: list[HandoffTeam], problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        rules.replace_teams(config(), teams)


def test_a_team_named_in_a_rule_cannot_be_removed() -> None:
    base = config().model_copy(update={"users": [HandoffUser(id="paid", paid_seat=True)]})
    deployed = rules.deploy_channel(
        base, ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web", handoff=rule((AssigneeKind.TEAM, "support")))
    )
    with pytest.raises(InvalidRequest, match="does not exist"):
        rules.replace_teams(deployed, [])


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (["human", " Human ", "", "talk  to a person"], ["human", "talk to a person"]),
        ([], []),
        (["   "], []),
    ],
)
def test_triggers_are_trimmed_and_deduplicated(given: list[str], expected: list[str]) -> None:
    assert rules.normalize_triggers(given) == expected


def test_too_many_or_too_long_triggers_are_refused() -> None:
    with pytest.raises(InvalidRequest, match="longer"):
        rules.normalize_triggers(["x" * 101])
    with pytest.raises(InvalidRequest, match="At most"):
        rules.normalize_triggers([f"word{i}" for i in range(201)])


def test_custom_messages_override_one_language_and_keep_the_defaults() -> None:
    custom = {"available": "Hej!", "away": "a", "at_capacity": "b", "outside_hours": "c", "handoff_unavailable": "d"}
    changed = rules.set_handoff_settings(config(), None, {"da": custom, "pt-BR": custom})
    assert changed.handoff.messages["da"].available == "Hej!"
    assert changed.handoff.messages["pt-br"].available == "Hej!"
    assert changed.handoff.messages["en"] == DEFAULT_AVAILABILITY_MESSAGES["en"]
    with pytest.raises(InvalidRequest, match="language tag"):
        rules.set_handoff_settings(config(), None, {"english!": custom})


def test_a_language_given_without_its_handoff_unavailable_text_keeps_or_defaults_it() -> None:
    four = {"available": "a", "away": "b", "at_capacity": "c", "outside_hours": "d"}
    first = rules.set_handoff_settings(config(), None, {"da": four, "de-AT": four, "pt-BR": four})
    assert first.handoff.messages["da"] == AvailabilityMessages(
        **four, handoff_unavailable=DEFAULT_AVAILABILITY_MESSAGES["da"].handoff_unavailable
    )
    # the primary subtag's default, and English for a language without defaults
    assert (
        first.handoff.messages["de-at"].handoff_unavailable == DEFAULT_AVAILABILITY_MESSAGES["de"].handoff_unavailable
    )
    assert (
        first.handoff.messages["pt-br"].handoff_unavailable == DEFAULT_AVAILABILITY_MESSAGES["en"].handoff_unavailable
    )

    custom = rules.set_handoff_settings(first, None, {"da": {**four, "handoff_unavailable": "Ikke muligt."}})
    again = rules.set_handoff_settings(custom, None, {"da": {**four, "available": "Hej!"}})
    assert again.handoff.messages["da"].handoff_unavailable == "Ikke muligt."
    assert again.handoff.messages["da"].available == "Hej!"


def test_saving_one_languages_messages_keeps_another_languages() -> None:
    danish = {"available": "Hej!", "away": "a", "at_capacity": "b", "outside_hours": "c", "handoff_unavailable": "d"}
    brazilian = {**danish, "available": "Olá!"}
    first = rules.set_handoff_settings(config(), None, {"da": danish, "pt-BR": brazilian})
    german = {**danish, "available": "Hallo!"}
    second = rules.set_handoff_settings(first, None, {"de": german})
    assert second.handoff.messages["de"].available == "Hallo!"
    assert second.handoff.messages["da"] == AvailabilityMessages(**danish)
    assert second.handoff.messages["pt-br"] == AvailabilityMessages(**brazilian)
    assert second.handoff.messages["en"] == DEFAULT_AVAILABILITY_MESSAGES["en"]


def test_a_language_sent_as_null_goes_back_to_its_defaults_or_away() -> None:
    custom = {"available": "Hej!", "away": "a", "at_capacity": "b", "outside_hours": "c", "handoff_unavailable": "d"}
    first = rules.set_handoff_settings(config(), None, {"da": custom, "pt-BR": custom, "de": custom})
    reset = rules.set_handoff_settings(first, None, {"DA": None, "pt-br": None})
    assert reset.handoff.messages["da"] == DEFAULT_AVAILABILITY_MESSAGES["da"]
    assert "pt-br" not in reset.handoff.messages  # no defaults in that language: its messages are gone
    assert reset.handoff.messages["de"] == AvailabilityMessages(**custom)
    assert rules.set_handoff_settings(reset, None, {"it": None}).handoff.messages == reset.handoff.messages


def test_next_version_increments() -> None:
    assert rules.next_version(config(), NOW).version == 2


@pytest.mark.parametrize(
    ("given", "keep", "expected"),
    [
        (None, True, 0.9),  # a PUT without the field keeps the stored threshold
        (None, False, None),  # an explicit null goes back to the service default
        (0.5, False, 0.5),
    ],
)
def test_a_new_profile_keeps_or_replaces_the_answer_threshold(
    given: float | None, keep: bool, expected: float | None
) -> None:
    strict = config().model_copy(update={"agent": AgentProfile(name="Ada", answer_threshold=0.9)})
    changed = rules.replace_profile(
        strict, AgentProfile(name="Bob", answer_threshold=given), keep_answer_threshold=keep
    )
    assert (changed.agent.name, changed.agent.answer_threshold) == ("Bob", expected)


def test_the_default_messages_data_file_holds_five_messages_in_six_languages() -> None:
    assert sorted(DEFAULT_AVAILABILITY_MESSAGES) == ["da", "de", "en", "es", "fr", "nl"]
    for messages in DEFAULT_AVAILABILITY_MESSAGES.values():
        assert all(text.strip() for text in messages.model_dump().values())
        assert len(messages.model_dump()) == 5
    assert DEFAULT_AVAILABILITY_MESSAGES["da"].available == "Tak fordi du venter. En fra vores team er hos dig om lidt."


def test_default_messages_with_a_missing_or_unknown_message_are_refused() -> None:
    five = {"available": "a", "away": "b", "at_capacity": "c", "outside_hours": "d", "handoff_unavailable": "e"}
    assert parse_defaults(json.dumps({"en": five}))["en"] == AvailabilityMessages(**five)
    with pytest.raises(ValueError, match="unknown messages"):
        parse_defaults(json.dumps({"en": {**five, "avaliable": "typo"}}))
    with pytest.raises(ValueError, match="handoff_unavailable"):
        parse_defaults(json.dumps({"en": {key: text for key, text in five.items() if key != "handoff_unavailable"}}))
