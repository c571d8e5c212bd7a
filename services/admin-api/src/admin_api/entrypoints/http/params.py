"""Headers and path parameters several resources' endpoints share."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Header

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Retry-safe creation: the same key and body return the same result for "
        "ADMIN_IDEMPOTENCY_RETENTION_HOURS (48 by default).",
    ),
]
IfMatch = Annotated[
    str | None, Header(alias="If-Match", description="ETag from the last read; 412 if the resource changed since.")
]
ETAG_HEADER: dict[str, Any] = {
    "ETag": {"description": "Version of the resource, for If-Match.", "schema": {"type": "string"}}
}
