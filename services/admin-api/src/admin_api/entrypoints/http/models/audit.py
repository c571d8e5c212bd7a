"""Bodies of the audit log endpoint."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from admin_api.entrypoints.http.models.common import examples


class AuditEntryOut(BaseModel):
    """One recorded change."""

    model_config = examples(
        {
            "id": 42,
            "actor": "key_0f3a",
            "action": "edit",
            "target_type": "agent",
            "target_id": "profile",
            "before": {"name": "Customer Agent"},
            "after": {"name": "Ada"},
            "at": "2026-11-21T12:00:00Z",
        }
    )

    id: int
    actor: str
    action: str
    target_type: str
    target_id: str
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    at: datetime


class AuditPage(BaseModel):
    """Audit entries, newest first; pass next_before_id as before_id for the next page."""

    model_config = examples({"items": [], "next_before_id": None})

    items: list[AuditEntryOut]
    next_before_id: int | None = None
