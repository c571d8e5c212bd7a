"""External contract: inbound and outbound channel messages and inbox handoffs."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from customer_agent_shared.events.envelope import Timestamp

MESSAGE_RECEIVED = "message.received"
MESSAGE_SEND = "message.send"
THREAD_HANDED_OFF = "thread.handed_off"
MESSAGE_FORWARDED = "message.forwarded"


_CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


def printable_text(value: str) -> str:
    """``value`` with NUL and the other C0 controls but tab and line breaks as U+FFFD (PostgreSQL text refuses NUL)."""
    return _CONTROL_CHARACTERS.sub("\ufffd", value)


VisitorText = Annotated[str, AfterValidator(printable_text)]
"""What a visitor or an admin typed: every consumer reads it without control characters."""

_EXTERNAL_ID_PATTERN = r"^[^\x00-\x1f\x7f]*$"
ExternalId = Annotated[str, StringConstraints(pattern=_EXTERNAL_ID_PATTERN)]
"""An id an outside party chose (thread, message, visitor, channel, account): no control characters, so
one with a NUL is refused when read (dead-lettered at once) instead of failing every store it reaches."""


def is_external_id(value: str) -> bool:
    """True when ``value`` has no control character (what ``ExternalId`` accepts, length aside)."""
    return re.fullmatch(_EXTERNAL_ID_PATTERN, value) is not None


PERSON_ID_MAX_LENGTH = 200
PersonId = Annotated[ExternalId, StringConstraints(max_length=PERSON_ID_MAX_LENGTH)]
"""A user or team id (admin-api's users and teams, handoff assignees): an ``ExternalId`` that fits routing's
200-character column, so every handoff to it can be recorded and announced."""


class ContractModel(BaseModel):
    """Base of contract models: unknown fields are kept, so producers may add fields."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class ChannelType(StrEnum):
    """Kinds of channel the agent can be deployed on."""

    LIVE_CHAT = "live_chat"
    WHATSAPP = "whatsapp"
    FACEBOOK = "facebook"
    EMAIL = "email"
    CALLING = "calling"
    CUSTOM = "custom"


class ChannelRef(ContractModel):
    """A channel instance of an account."""

    type: ChannelType = Field(description="Channel kind.", examples=["live_chat"])
    id: ExternalId = Field(min_length=1, max_length=200, description="Channel id within the account.")


class Sender(ContractModel):
    """Who sent an inbound message."""

    id: ExternalId = Field(min_length=1, max_length=200, description="Visitor id on the channel.")
    name: VisitorText | None = Field(default=None, max_length=200, description="Display name, if known.")
    locale: str | None = Field(default=None, max_length=35, description="Browser language (BCP 47), e.g. 'da-DK'.")


class MessageReceived(ContractModel):
    """A visitor's message, published by a channel provider to channels.inbound.v1."""

    account_id: ExternalId = Field(min_length=1, max_length=100, description="Account the channel belongs to.")
    channel: ChannelRef = Field(description="Channel the message arrived on.")
    thread_id: ExternalId = Field(min_length=1, max_length=200, description="Conversation thread id.")
    message_id: ExternalId = Field(min_length=1, max_length=200, description="Unique id of this message.")
    sender: Sender = Field(description="Visitor who wrote the message.")
    text: VisitorText = Field(
        max_length=20_000, description="Message text (control characters but tab and line breaks become U+FFFD)."
    )
    sent_at: Timestamp = Field(description="When the visitor sent it.")


class OutboundKind(StrEnum):
    """What an outbound message is."""

    ANSWER = "answer"
    REPHRASE_REQUEST = "rephrase_request"
    HANDOFF_NOTICE = "handoff_notice"
    AVAILABILITY = "availability"
    HANDOFF_UNAVAILABLE = "handoff_unavailable"


class AuthorKind(StrEnum):
    """Who wrote an outbound message."""

    AI_AGENT = "ai_agent"
    SYSTEM = "system"


class Author(ContractModel):
    """Author shown on an outbound message."""

    kind: AuthorKind = Field(description="ai_agent or system.")
    name: str = Field(description="Display name, e.g. the agent's name.")


class Citation(ContractModel):
    """A source cited by an answer."""

    title: str = Field(description="Title of the cited page or document.")
    url: str = Field(description="Where the visitor can read it.")


class MessageSend(ContractModel):
    """A message to deliver to the visitor, on channels.outbound.v1."""

    account_id: str = Field(description="Account id.")
    channel: ChannelRef = Field(description="Channel to deliver on.")
    thread_id: str = Field(description="Thread id.")
    reply_to: str = Field(description="The inbound message_id this replies to.")
    text: str = Field(description="Text to show.")
    language: str = Field(description="Language of `text` (BCP 47).")
    kind: OutboundKind = Field(description="What the message is.")
    author: Author = Field(description="Who the message is from.")
    citations: list[Citation] = Field(default_factory=list, description="Cited sources.")
    powered_by_ai: bool = Field(description="Whether channels show the 'Powered by AI' header.")


class HandoffReason(StrEnum):
    """Why a thread went to a human."""

    TRIGGER = "trigger"
    CANNOT_ANSWER = "cannot_answer"
    AGENT_PAUSED = "agent_paused"
    CREDITS_EXHAUSTED = "credits_exhausted"
    NOT_DEPLOYED = "not_deployed"
    VISITOR_REQUEST = "visitor_request"


class AssigneeKind(StrEnum):
    """Who receives a handed-off thread."""

    USER = "user"
    TEAM = "team"
    UNASSIGNED = "unassigned"


class Assignee(ContractModel):
    """The receiver of a handoff."""

    kind: AssigneeKind = Field(description="user, team or unassigned.")
    id: PersonId | None = Field(default=None, description="User or team id; absent when unassigned.")


class TranscriptEntry(ContractModel):
    """One turn of the conversation so far."""

    role: str = Field(description="'visitor', 'agent' or 'system'.")
    text: str = Field(description="What was said.")
    at: Timestamp = Field(description="When.")


class ThreadHandedOff(ContractModel):
    """A thread handed to a human, a team or the unassigned view (inbox.handoffs.v1)."""

    account_id: str = Field(description="Account id.")
    channel: ChannelRef = Field(description="Channel of the thread.")
    thread_id: str = Field(description="Thread id.")
    reason: HandoffReason = Field(description="Why the thread was handed off.")
    assignee: Assignee = Field(description="Who receives it.")
    update_avatar: bool = Field(description="Whether the inbox shows the human's avatar from now on.")
    transcript: list[TranscriptEntry] = Field(default_factory=list, description="The conversation so far.")


class MessageForwarded(ContractModel):
    """A visitor message on a thread a human owns, forwarded to the inbox (inbox.handoffs.v1)."""

    account_id: str = Field(description="Account id.")
    channel: ChannelRef = Field(description="Channel of the thread.")
    thread_id: str = Field(description="Thread id.")
    assignee: Assignee = Field(description="Current owner of the thread.")
    message: MessageReceived = Field(description="The inbound message.")
