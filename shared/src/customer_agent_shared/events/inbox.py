"""External contract: what the human inbox or help desk reports on inbox.events.v1."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import Field, ValidationError, model_validator

from customer_agent_shared.events.channels import Assignee, AssigneeKind, ContractModel, ExternalId
from customer_agent_shared.events.envelope import CloudEvent, EventParseError, RawCloudEvent, envelope_class

THREAD_CLOSED = "thread.closed"
THREAD_REASSIGNED = "thread.reassigned"
THREAD_RETURNED = "thread.returned"
USER_AVAILABILITY = "user.availability"
INBOX_EVENT_TYPES = (THREAD_CLOSED, THREAD_REASSIGNED, THREAD_RETURNED, USER_AVAILABILITY)


class CloserKind(StrEnum):
    """Who closed a thread in the inbox."""

    USER = "user"
    TEAM = "team"


class ClosedBy(ContractModel):
    """The person or team that closed a thread."""

    kind: CloserKind = Field(description="user or team.")
    id: ExternalId = Field(min_length=1, max_length=200, description="User or team id.")


class ThreadClosed(ContractModel):
    """A person closed a thread: its place in the person's or team's capacity is free at once."""

    account_id: ExternalId = Field(min_length=1, max_length=100, description="Account id.")
    thread_id: ExternalId = Field(min_length=1, max_length=200, description="Thread id.")
    closed_by: ClosedBy = Field(description="Who closed it.")
    resolved: bool = Field(description="Whether the person marked the thread resolved.")


class ThreadReassigned(ContractModel):
    """A person gave a thread to another user, a team or the unassigned view."""

    account_id: ExternalId = Field(min_length=1, max_length=100, description="Account id.")
    thread_id: ExternalId = Field(min_length=1, max_length=200, description="Thread id.")
    assignee: Assignee = Field(description="The new owner; a user or team with its id.")

    @model_validator(mode="after")
    def _names_the_new_owner(self) -> Self:
        """Refuse a user or team without its id: no consumer could say who holds the thread."""
        kind = self.assignee.kind
        if kind is not AssigneeKind.UNASSIGNED and not self.assignee.id:
            raise ValueError(f"a thread reassigned to a {kind.value} needs the {kind.value}'s id")
        return self


class ThreadReturned(ContractModel):
    """A person handed the thread back to the AI agent."""

    account_id: ExternalId = Field(min_length=1, max_length=100, description="Account id.")
    thread_id: ExternalId = Field(min_length=1, max_length=200, description="Thread id.")


class UserAvailability(ContractModel):
    """A user's presence in the inbox changed (key ``{account_id}:{user_id}``)."""

    account_id: ExternalId = Field(min_length=1, max_length=100, description="Account id.")
    user_id: ExternalId = Field(min_length=1, max_length=200, description="User id.")
    available: bool = Field(description="True when the user is present and takes threads.")


InboxEventData = ThreadClosed | ThreadReassigned | ThreadReturned | UserAvailability
"""The data of any inbox event; which one follows from the CloudEvent type."""

INBOX_DATA_MODELS: dict[str, type[ContractModel]] = {
    THREAD_CLOSED: ThreadClosed,
    THREAD_REASSIGNED: ThreadReassigned,
    THREAD_RETURNED: ThreadReturned,
    USER_AVAILABILITY: UserAvailability,
}


def inbox_event(raw: RawCloudEvent) -> CloudEvent[Any]:
    """Validate an inbox event's data against the model of its type; raise ``EventParseError`` (a poison
    message) for an unknown type, invalid data, or data naming another account than the envelope."""
    model = INBOX_DATA_MODELS.get(raw.type)
    if model is None:
        raise EventParseError(f"unexpected event type {raw.type!r}; expected one of {', '.join(INBOX_EVENT_TYPES)}")
    try:
        data = model.model_validate(raw.data)
    except ValidationError as error:
        raise EventParseError(f"invalid {raw.type} data: {error.errors()[:5]}") from error
    account_id = getattr(data, "account_id", None)
    if account_id != raw.accountid:
        raise EventParseError(f"event accountid {raw.accountid!r} differs from data.account_id {account_id!r}")
    return envelope_class(model)(data=data, **raw.model_dump(exclude={"data"}))


def inbox_event_key(data: InboxEventData) -> str:
    """The Kafka key of an inbox event: per thread, or per user for presence."""
    if isinstance(data, UserAvailability):
        return f"{data.account_id}:{data.user_id}"
    return f"{data.account_id}:{data.thread_id}"
