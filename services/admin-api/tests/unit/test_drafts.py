"""A draft's sections: what it proposes over the live configuration, conflicts, publishing and undoing it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from admin_api.domain import configuration as rules
from admin_api.domain import drafts
from admin_api.domain.drafts import AGENT, HANDOFF, DraftSection, channel_section
from admin_api.domain.errors import Conflict, InvalidRequest
from customer_agent_shared.events.channels import AssigneeKind, ChannelType
from customer_agent_shared.events.config import (
    AgentConfigSnapshot,
    AgentProfile,
    ChannelDeployment,
    HandoffRule,
    HandoffTarget,
    HandoffTeam,
    HandoffUser,
)

NOW = datetime(2026, 12, 7, 10, tzinfo=UTC)
TEAM = HandoffTarget(kind=AssigneeKind.TEAM, id="support")


def live() -> AgentConfigSnapshot:
    config = rules.new_account_config("acme", NOW)
    return config.model_copy(
        update={
            "users": [HandoffUser(id="u1", paid_seat=True, team_ids=["support"])],
            "teams": [HandoffTeam(id="support", member_ids=["u1"])],
            "channels": [ChannelDeployment(type=ChannelType.LIVE_CHAT, id="web")],
        }
    )


def strict(config: AgentConfigSnapshot) -> AgentConfigSnapshot:
    return rules.replace_profile(config, AgentProfile(name="Ava", answer_threshold=0.9), keep_answer_threshold=False)


def test_a_saved_section_is_proposed_over_the_live_configuration_and_the_rest_follows_live() -> None:
    current = live()
    draft = drafts.saved({}, current, {AGENT: drafts.sections_of(strict(current))[AGENT]})

    assert set(draft) == {AGENT}
    assert draft[AGENT].base == current.agent.model_dump(mode="json")
    # A live change to a section the draft leaves alone shows through the draft.
    later = rules.set_handoff_settings(current, ["refund"], None)
    proposed = drafts.drafted(later, draft)
    assert (proposed.agent.name, proposed.agent.answer_threshold) == ("Ava", 0.9)
    assert proposed.handoff.triggers == ["refund"]
    assert drafts.conflicts(draft, later) == []


def test_saving_a_section_back_to_its_live_value_takes_it_out_of_the_draft() -> None:
    current = live()
    draft = drafts.saved({}, current, {AGENT: drafts.sections_of(strict(current))[AGENT]})

    assert drafts.saved(draft, current, {AGENT: current.agent.model_dump(mode="json")}) == {}


def test_publishing_applies_the_draft_and_refuses_a_section_changed_live_meanwhile() -> None:
    current = live()
    rule = HandoffRule(assign_to=[TEAM]).model_dump(mode="json")
    draft = drafts.saved({}, current, {channel_section("web"): rule, HANDOFF: {"triggers": ["refund"], "messages": {}}})

    published = drafts.publishable(draft, current)
    assert published.channels[0].handoff.assign_to == [TEAM]
    assert published.handoff.triggers == ["refund"]

    moved = rules.set_handoff_settings(current, ["human"], None)
    with pytest.raises(Conflict) as refused:
        drafts.publishable(draft, moved)
    assert refused.value.code == "draft_conflict"
    assert "the handoff settings" in refused.value.message
    # Saving the section again bases it on the live value: it publishes.
    rebased = drafts.saved(draft, moved, {HANDOFF: draft[HANDOFF].value})
    assert drafts.publishable(rebased, moved).handoff.triggers == ["refund"]


def test_a_drafted_rule_of_a_channel_removed_live_or_of_people_who_left_is_not_published() -> None:
    current = live()
    draft = drafts.saved({}, current, {channel_section("web"): HandoffRule(assign_to=[TEAM]).model_dump(mode="json")})

    with pytest.raises(Conflict):
        drafts.publishable(draft, rules.remove_channel(current, "web"))
    # The team was removed live through a change the draft's base does not cover: the rule is checked again.
    gone = current.model_copy(update={"teams": []})
    with pytest.raises(InvalidRequest):
        drafts.publishable(draft, gone)
    with pytest.raises(Conflict) as empty:
        drafts.publishable({}, current)
    assert empty.value.code == "empty_draft"


def test_unpublishing_restores_the_sections_unless_they_changed_again() -> None:
    before = live()
    after = strict(before)
    published = {AGENT: drafts.sections_of(after)[AGENT]}
    earlier = {AGENT: drafts.sections_of(before)[AGENT]}

    restored = drafts.reverted(after, published=published, before=earlier)
    assert restored.agent == before.agent

    edited = rules.replace_profile(after, AgentProfile(name="Bo"), keep_answer_threshold=True)
    with pytest.raises(Conflict) as refused:
        drafts.reverted(edited, published=published, before=earlier)
    assert refused.value.code == "changed_since_publish"


def test_a_draft_section_round_trips_through_its_stored_form() -> None:
    section = DraftSection(value={"name": "Ava"}, base=None)

    assert DraftSection.from_json(section.to_json()) == section
    assert drafts.describe(channel_section("web")) == "the handoff rule of channel 'web'"
