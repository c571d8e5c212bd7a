"""Bodies of the operator's account and API key endpoints."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from admin_api.domain.access import Permission
from admin_api.entrypoints.http.models.common import ApiModel, examples

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]*$"


class AccountCreate(ApiModel):
    """A new account."""

    model_config = examples({"id": "acme", "name": "Acme Inc."})

    id: str = Field(min_length=1, max_length=100, pattern=ID_PATTERN, description="Account id, chosen by the operator.")
    name: str = Field(min_length=1, max_length=200, description="Display name.")


class AccountOut(BaseModel):
    """An account."""

    model_config = examples({"id": "acme", "name": "Acme Inc.", "created_at": "2026-11-21T12:00:00Z"})

    id: str
    name: str
    created_at: datetime


class ApiKeyCreate(ApiModel):
    """Permissions of a new API key."""

    model_config = examples({"permissions": ["customer_agent:read", "customer_agent:edit"]})

    permissions: list[Permission] = Field(min_length=1, max_length=2, description="What the key may do.")


class ApiKeyOut(BaseModel):
    """An API key as stored (the key itself is never shown again)."""

    model_config = examples(
        {
            "id": "key_0f3a",
            "permissions": ["customer_agent:read"],
            "created_at": "2026-11-21T12:00:00Z",
            "revoked_at": None,
        }
    )

    id: str
    permissions: list[str]
    created_at: datetime
    revoked_at: datetime | None = None


class ApiKeyCreated(ApiKeyOut):
    """A new API key: ``key`` is shown only in this response; store it safely."""

    model_config = examples(
        {
            "id": "key_0f3a",
            "key": "cak_key_0f3a_4Yk…",
            "permissions": ["customer_agent:read"],
            "created_at": "2026-11-21T12:00:00Z",
            "revoked_at": None,
        }
    )

    key: str = Field(description="The secret to send as 'Authorization: Bearer <key>'.")
