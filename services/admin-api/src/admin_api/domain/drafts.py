"""A draft of the agent configuration: changes to its sections, kept beside the live configuration.

A draft holds whole sections: the agent profile (name, role, personality, answer threshold), the handoff
settings (triggers and availability messages) and each deployed channel's handoff rule. For each section it
changes it keeps the value it proposes and the live value it was based on. The draft as a whole is the live
configuration with those sections replaced, so a section the draft leaves alone always follows the live one;
publishing refuses a section whose live value moved since the draft was based on it (someone changed it live:
publishing would silently undo that), until the draft is saved again on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from customer_agent_shared.events.config import AgentConfigSnapshot, AgentProfile, HandoffRule, HandoffSettings

from admin_api.domain.configuration import check_handoff_rule
from admin_api.domain.errors import Conflict

AGENT = "agent"
HANDOFF = "handoff"
CHANNEL_PREFIX = "channel:"

SectionValue = dict[str, Any]


@dataclass(frozen=True)
class DraftSection:
    """One section's proposed value and the live value it was based on (None: the section did not exist)."""

    value: SectionValue
    base: SectionValue | None

    def to_json(self) -> dict[str, Any]:
        """As stored."""
        return {"value": self.value, "base": self.base}

    @classmethod
    def from_json(cls, stored: Mapping[str, Any]) -> DraftSection:
        """From its stored form."""
        return cls(value=dict(stored["value"]), base=stored.get("base"))


Draft = Mapping[str, DraftSection]


def channel_section(channel_id: str) -> str:
    """The name of a channel's handoff rule section."""
    return CHANNEL_PREFIX + channel_id


def sections_of(config: AgentConfigSnapshot) -> dict[str, SectionValue]:
    """Every section a draft may change, as JSON."""
    sections = {AGENT: config.agent.model_dump(mode="json"), HANDOFF: config.handoff.model_dump(mode="json")}
    for channel in config.channels:
        sections[channel_section(channel.id)] = channel.handoff.model_dump(mode="json")
    return sections


def with_sections(config: AgentConfigSnapshot, values: Mapping[str, SectionValue]) -> AgentConfigSnapshot:
    """``config`` with these sections replaced; a channel it no longer deploys is left out."""
    update: dict[str, Any] = {}
    if AGENT in values:
        update["agent"] = AgentProfile.model_validate(values[AGENT])
    if HANDOFF in values:
        update["handoff"] = HandoffSettings.model_validate(values[HANDOFF])
    channels = []
    for channel in config.channels:
        rule = values.get(channel_section(channel.id))
        channels.append(channel if rule is None else channel.model_copy(update={"handoff": HandoffRule(**rule)}))
    update["channels"] = channels
    return config.model_copy(update=update)


def drafted(live: AgentConfigSnapshot, draft: Draft) -> AgentConfigSnapshot:
    """The configuration the draft describes: the live one with the draft's sections."""
    return with_sections(live, {name: section.value for name, section in draft.items()})


def saved(draft: Draft, live: AgentConfigSnapshot, proposed: Mapping[str, SectionValue]) -> dict[str, DraftSection]:
    """The draft with these sections saved, each based on its live value now (a section equal to the live
    one is no change and leaves the draft)."""
    current = sections_of(live)
    result = dict(draft)
    for name, value in proposed.items():
        base = current.get(name)
        if value == base:
            result.pop(name, None)
        else:
            result[name] = DraftSection(value=value, base=base)
    return result


def conflicts(draft: Draft, live: AgentConfigSnapshot) -> list[str]:
    """The draft's sections whose live value changed since the draft was based on it, by name."""
    current = sections_of(live)
    return sorted(name for name, section in draft.items() if current.get(name) != section.base)


def describe(name: str) -> str:
    """A section's name as an admin reads it."""
    if name.startswith(CHANNEL_PREFIX):
        return f"the handoff rule of channel {name.removeprefix(CHANNEL_PREFIX)!r}"
    return {AGENT: "the agent profile", HANDOFF: "the handoff settings"}.get(name, name)


def publishable(draft: Draft, live: AgentConfigSnapshot) -> AgentConfigSnapshot:
    """The configuration publishing the draft makes live; Conflict when a section moved live since the draft
    was based on it or a drafted channel is gone, InvalidRequest when a rule names people who left."""
    if not draft:
        raise Conflict("The draft changes nothing; save a change with PUT /agent/draft first.", code="empty_draft")
    moved = conflicts(draft, live)
    if moved:
        raise Conflict(
            f"Since the draft was saved, {', '.join(describe(name) for name in moved)} changed live; publishing "
            "would undo that. Read the draft (GET /agent/draft), and save those sections again (PUT /agent/draft) "
            "to base them on the live configuration, or discard the draft.",
            code="draft_conflict",
        )
    result = drafted(live, draft)
    for channel in result.channels:
        check_handoff_rule(channel.handoff, result.users, result.teams, channel.id)
    return result


def reverted(
    live: AgentConfigSnapshot, *, published: Mapping[str, SectionValue], before: Mapping[str, SectionValue | None]
) -> AgentConfigSnapshot:
    """The live configuration with a publication undone: each section it changed back to its value before;
    Conflict when one of them changed live since (undoing would drop that change too)."""
    current = sections_of(live)
    moved = sorted(name for name, value in published.items() if current.get(name) != value)
    if moved:
        raise Conflict(
            f"Since the last publish, {', '.join(describe(name) for name in moved)} changed live; unpublishing "
            "would undo that as well. Change the configuration directly instead.",
            code="changed_since_publish",
        )
    restored = {name: value for name, value in before.items() if value is not None}
    result = with_sections(live, restored)
    for channel in result.channels:
        check_handoff_rule(channel.handoff, result.users, result.teams, channel.id)
    return result
