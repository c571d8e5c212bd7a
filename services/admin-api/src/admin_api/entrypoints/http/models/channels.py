"""Bodies of the channel deployment endpoints."""

from __future__ import annotations

from typing import Literal

from customer_agent_shared.events.channels import ChannelType
from customer_agent_shared.events.config import ChannelDeployment, HandoffMode
from pydantic import BaseModel, Field

from admin_api.entrypoints.http.models.common import ApiModel, examples
from admin_api.entrypoints.http.models.people import PersonIdBody

CHANNEL_ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
"""A channel id is the provider's (a phone number, an e-mail address, a page path): anything inbound events
may carry (``ChannelRef.id``), but for control characters."""


class HandoffTargetBody(ApiModel):
    """A user or team who receives handed-off threads."""

    model_config = examples({"kind": "team", "id": "support"})

    kind: Literal["user", "team"]
    id: PersonIdBody


class HandoffRuleBody(ApiModel):
    """What happens when a thread leaves the agent on this channel."""

    model_config = examples(
        {"mode": "handoff", "assign_to": [{"kind": "team", "id": "support"}], "update_avatar": True}
    )

    mode: HandoffMode = Field(default=HandoffMode.HANDOFF, description="handoff or stay_assigned.")
    assign_to: list[HandoffTargetBody] = Field(
        default_factory=list, max_length=50, description="Candidates; empty = the unassigned view."
    )
    update_avatar: bool = Field(default=True, description="Show the human's avatar after the handoff.")


class ChannelCreate(ApiModel):
    """Deploy the agent on a channel."""

    model_config = examples(
        {"type": "live_chat", "id": "website", "handoff": {"mode": "handoff", "assign_to": [], "update_avatar": True}}
    )

    type: ChannelType
    id: str = Field(
        min_length=1,
        max_length=200,
        pattern=CHANNEL_ID_PATTERN,
        description="The provider's channel id, as inbound messages carry it (e.g. 'website', '+4512345678').",
    )
    handoff: HandoffRuleBody = Field(default_factory=HandoffRuleBody)


class ChannelUpdate(ApiModel):
    """A channel's new handoff rule."""

    model_config = examples({"handoff": {"mode": "stay_assigned", "assign_to": [], "update_avatar": False}})

    handoff: HandoffRuleBody


class ChannelOut(BaseModel):
    """A channel the agent is deployed on."""

    model_config = examples(
        {"type": "whatsapp", "id": "wa-main", "handoff": {"mode": "handoff", "assign_to": [], "update_avatar": True}}
    )

    type: ChannelType
    id: str
    handoff: HandoffRuleBody


class ChannelList(BaseModel):
    """Every deployment."""

    model_config = examples({"items": []})

    items: list[ChannelOut]


def channel_out(channel: ChannelDeployment) -> ChannelOut:
    """A deployment as the API shows it."""
    return ChannelOut.model_validate(channel.model_dump(mode="json"))
