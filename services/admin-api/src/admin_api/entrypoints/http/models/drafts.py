"""Bodies of the draft endpoints: the draft, its publication and its replays."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from customer_agent_shared.events.replay import MAX_REPLAY_QUESTIONS
from pydantic import BaseModel, Field

from admin_api.adapters.draft_repositories import ReplayRecord
from admin_api.entrypoints.http.models.agent import AgentProfileBody
from admin_api.entrypoints.http.models.channels import CHANNEL_ID_PATTERN, ChannelOut, HandoffRuleBody
from admin_api.entrypoints.http.models.common import ApiModel, examples
from admin_api.entrypoints.http.models.handoff import HandoffSettingsBody, HandoffSettingsOut
from admin_api.handlers.drafts import DraftView

DEFAULT_REPLAY_QUESTIONS = 200


class DraftChannelRule(ApiModel):
    """A deployed channel's handoff rule in the draft."""

    model_config = examples({"id": "website", "handoff": {"mode": "handoff", "assign_to": [], "update_avatar": True}})

    id: str = Field(min_length=1, max_length=200, pattern=CHANNEL_ID_PATTERN, description="The channel's id.")
    handoff: HandoffRuleBody


class DraftBody(ApiModel):
    """Sections to save into the draft; a section left out keeps its drafted value (or the live one)."""

    model_config = examples(
        {"agent": {"name": "Ada", "role": "customer_service", "personality": "friendly", "answer_threshold": 0.8}},
        {"handoff": {"triggers": ["refund", "talk to a person"]}},
        {"channels": [{"id": "website", "handoff": {"mode": "stay_assigned", "assign_to": []}}]},
    )

    agent: AgentProfileBody | None = Field(
        default=None, description="As PUT /agent: name, role, personality, answer_threshold (left out: kept)."
    )
    handoff: HandoffSettingsBody | None = Field(
        default=None, description="As PUT /handoff: triggers and/or availability messages (left out: kept)."
    )
    channels: list[DraftChannelRule] | None = Field(
        default=None, max_length=100, description="Handoff rules of deployed channels, as PUT /channels/{id}."
    )


class DraftOut(BaseModel):
    """The draft: the configuration it would make live, and what it changes."""

    model_config = examples(
        {
            "agent": {"name": "Ada", "role": "customer_service", "personality": "friendly", "answer_threshold": 0.8},
            "handoff": {"triggers": ["refund"], "messages": {}},
            "channels": [],
            "changes": ["agent", "handoff"],
            "conflicts": [],
            "live_version": 7,
            "updated_at": "2026-12-07T10:00:00Z",
            "updated_by": "key_1a2b",
        }
    )

    agent: AgentProfileBody
    handoff: HandoffSettingsOut
    channels: list[ChannelOut] = Field(description="Deployed channels with their rules in the draft.")
    changes: list[str] = Field(
        description="The sections the draft changes: 'agent', 'handoff', 'channel:<id>'; empty: no draft."
    )
    conflicts: list[str] = Field(
        description="Changed sections whose live value changed since they were saved: save them again to publish."
    )
    live_version: int = Field(description="The live configuration's version the draft is read against.")
    updated_at: datetime | None = Field(default=None, description="When the draft was last saved.")
    updated_by: str | None = Field(default=None, description="Which API key saved it last.")


def draft_out(view: DraftView) -> DraftOut:
    """The draft as the API shows it."""
    config = view.config
    return DraftOut.model_validate(
        {
            "agent": config.agent.model_dump(mode="json"),
            "handoff": config.handoff.model_dump(mode="json"),
            "channels": [channel.model_dump(mode="json") for channel in config.channels],
            "changes": sorted(view.sections),
            "conflicts": view.conflicts,
            "live_version": view.live_version,
            "updated_at": view.updated_at,
            "updated_by": view.updated_by,
        }
    )


class PublishedOut(BaseModel):
    """The live configuration after a publish or an unpublish."""

    model_config = examples({"version": 8, "sections": ["agent", "handoff"]})

    version: int = Field(description="The live configuration's new version.")
    sections: list[str] = Field(description="The sections that changed.")


class ReplayRequest(ApiModel):
    """How many of the account's latest real questions to replay."""

    model_config = examples({"limit": 200})

    limit: int = Field(
        default=DEFAULT_REPLAY_QUESTIONS, ge=1, le=MAX_REPLAY_QUESTIONS, description="Latest questions to replay."
    )


class OutcomeOut(BaseModel):
    """What would happen to a question under one configuration."""

    answered: bool = Field(description="The agent would answer it.")
    reply: str | None = Field(
        description="The agent's reply kind (answer, rephrase_request, handoff_notice); null when a trigger word "
        "hands the thread off before the agent sees the message."
    )
    citations: list[dict[str, str]] = Field(description="What the answer would cite.")
    handoff: dict[str, Any] | None = Field(
        description="A handoff: reason (trigger, cannot_answer), outcome (handed_off, stayed_assigned), assignee, "
        "trigger (the word or phrase found); null when the thread stays with the agent."
    )


class ChangedQuestion(BaseModel):
    """A replayed question the draft changes."""

    question: str
    language: str
    asked_at: datetime
    thread_id: str
    message_id: str
    channel: dict[str, Any] | None
    changes: list[
        Literal[
            "answered_to_declined",
            "declined_to_answered",
            "citations_changed",
            "handoff_reason_changed",
            "handoff_target_changed",
        ]
    ]
    live: OutcomeOut
    draft: OutcomeOut


class ReplaySummary(BaseModel):
    """How many replayed questions the draft changes, and how (a question may change in several ways)."""

    replayed: int
    changed: int
    unchanged: int
    answered_to_declined: int
    declined_to_answered: int
    citations_changed: int
    handoff_reason_changed: int
    handoff_target_changed: int


class ReplayOut(BaseModel):
    """A draft replay: running, done (with the report) or failed."""

    model_config = examples(
        {
            "id": "rpl_5f1c",
            "state": "running",
            "limit": 200,
            "requested_at": "2026-12-07T10:00:00Z",
            "finished_at": None,
            "draft_etag": '"3f2a"',
            "draft_current": True,
            "live_version": 7,
        }
    )

    id: str
    state: Literal["running", "done", "failed"]
    limit: int
    requested_at: datetime
    finished_at: datetime | None = None
    draft_etag: str = Field(description="The draft that was replayed (its ETag).")
    draft_current: bool = Field(description="The draft has not changed since.")
    live_version: int = Field(description="The live configuration it was compared with.")
    available: int | None = Field(default=None, description="How many real questions the history held (≤ limit).")
    complete: bool | None = Field(default=None, description="Every available question was replayed.")
    routing_compared: bool | None = Field(default=None, description="Trigger words and handoff rules were compared.")
    notes: list[str] = Field(default_factory=list, description="What the admin should know about this replay.")
    summary: ReplaySummary | None = None
    changes: list[ChangedQuestion] = Field(default_factory=list, description="The changed questions, newest first.")
    error: str | None = None


def replay_out(record: ReplayRecord, *, current_etag: str) -> ReplayOut:
    """A replay as the API shows it."""
    result = record.result or {}
    return ReplayOut.model_validate(
        {
            "id": record.id,
            "state": "running" if record.running else record.state,
            "limit": record.question_limit,
            "requested_at": record.requested_at,
            "finished_at": record.finished_at,
            "draft_etag": record.draft_etag,
            "draft_current": record.draft_etag == current_etag,
            "live_version": record.live_version,
            "error": record.error,
            **{key: result[key] for key in ("available", "complete", "routing_compared", "notes") if key in result},
            "summary": result.get("summary"),
            "changes": result.get("changes", []),
        }
    )
