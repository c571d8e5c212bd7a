"""The audit log: every recorded change, filtered and paged."""

from __future__ import annotations

from typing import Annotated

from customer_agent_shared.events.envelope import Timestamp
from fastapi import APIRouter, Query

from admin_api.adapters.insight_repositories import AuditQuery
from admin_api.entrypoints.http.errors import READ_ERRORS
from admin_api.entrypoints.http.models.audit import AuditEntryOut, AuditPage
from admin_api.entrypoints.http.security import AccountId, Reader, Services

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["audit"])


@router.get("/audit-log", response_model=AuditPage, responses=READ_ERRORS, summary="Recorded changes")
async def audit_log(
    account_id: AccountId,
    who: Reader,
    api: Services,
    target_type: Annotated[str | None, Query(max_length=60)] = None,
    target_id: Annotated[str | None, Query(max_length=300)] = None,
    action: Annotated[str | None, Query(max_length=40)] = None,
    from_: Annotated[Timestamp | None, Query(alias="from", description="Not before (RFC 3339).")] = None,
    to: Annotated[Timestamp | None, Query(description="Before (RFC 3339).")] = None,
    before_id: Annotated[int | None, Query(ge=1, le=2**62, description="Page: entries older than this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPage:
    query = AuditQuery(
        account_id=account_id,
        target_type=target_type,
        target_id=target_id,
        action=action,
        start=from_,
        end=to,
        before_id=before_id,
        limit=limit,
    )
    entries = [
        AuditEntryOut.model_validate({k: v for k, v in row.items() if k in AuditEntryOut.model_fields})
        for row in await api.audit.search(query)
    ]
    return AuditPage(items=entries, next_before_id=entries[-1].id if len(entries) == limit else None)
