"""Bodies of the handoff settings endpoints: trigger phrases and availability messages."""

from __future__ import annotations

from typing import Annotated

from customer_agent_shared.events.config import AgentConfigSnapshot
from pydantic import BaseModel, Field

from admin_api.entrypoints.http.models.common import ApiModel, examples


class MessagesBody(ApiModel):
    """Availability messages in one language."""

    model_config = examples(
        {
            "available": "A teammate will be with you shortly.",
            "away": "We are away.",
            "at_capacity": "We are busy; please wait.",
            "outside_hours": "We are closed.",
            "handoff_unavailable": "I cannot hand you over right now.",
        }
    )

    available: str = Field(min_length=1, max_length=1000)
    away: str = Field(min_length=1, max_length=1000)
    at_capacity: str = Field(min_length=1, max_length=1000)
    outside_hours: str = Field(min_length=1, max_length=1000)
    handoff_unavailable: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Optional: left out, the language keeps its current text, else the default one.",
    )


class HandoffSettingsBody(ApiModel):
    """Trigger words/phrases and availability messages; omitted fields (and languages) keep their value."""

    model_config = examples(
        {"triggers": ["human", "talk to a person"]},
        {
            "messages": {
                "da": {
                    "available": "Vi er her om lidt.",
                    "away": "Vi er væk.",
                    "at_capacity": "Travlt; vent venligst.",
                    "outside_hours": "Vi har lukket.",
                },
                "pt-br": None,
            }
        },
    )

    triggers: list[Annotated[str, Field(max_length=100)]] | None = Field(default=None, max_length=200)
    messages: dict[str, MessagesBody | None] | None = Field(
        default=None,
        description="Keyed by language, e.g. 'en'; only the languages given change, null resets one to its "
        "default messages (or removes it when it has none).",
    )

    def message_changes(self) -> dict[str, dict[str, str] | None] | None:
        """Each language's texts as sent (None: back to the defaults); None when no messages were sent."""
        if self.messages is None:
            return None
        return {
            language: None if texts is None else texts.model_dump(exclude_none=True)
            for language, texts in self.messages.items()
        }


class HandoffSettingsOut(BaseModel):
    """The account's handoff settings."""

    model_config = examples({"triggers": ["human"], "messages": {}})

    triggers: list[str]
    messages: dict[str, MessagesBody]


def handoff_out(config: AgentConfigSnapshot) -> HandoffSettingsOut:
    """Handoff settings as the API shows them."""
    return HandoffSettingsOut.model_validate(config.handoff.model_dump(mode="json"))
