"""Audit trail events."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from customer_agent_shared.events.channels import ContractModel
from customer_agent_shared.events.envelope import Timestamp

AUDIT_RECORDED = "audit.recorded"


class AuditRecorded(ContractModel):
    """One create / edit / publish / unpublish / delete."""

    account_id: str = Field(description="Account id.")
    actor: str = Field(description="Who: API key id, 'bootstrap' or a service name.")
    action: str = Field(description="create, edit, publish, unpublish or delete.")
    target_type: str = Field(description="What kind of thing, e.g. 'channel'.")
    target_id: str = Field(description="Which one.")
    before: dict[str, Any] | None = Field(default=None, description="State before.")
    after: dict[str, Any] | None = Field(default=None, description="State after.")
    at: Timestamp = Field(description="When.")
