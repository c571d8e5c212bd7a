"""Insights: performance over a period and the knowledge gaps found in conversations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from admin_api.domain.periods import reporting_period
from admin_api.entrypoints.http.errors import EDIT_ERRORS, READ_ERRORS, error_responses
from admin_api.entrypoints.http.models.insights import (
    KnowledgeGapList,
    KnowledgeGapOut,
    PerformanceOut,
    ResolvedGapOut,
    ResolveGapBody,
    gap_out,
)
from admin_api.entrypoints.http.models.sources import source_out
from admin_api.entrypoints.http.params import IdempotencyKey
from admin_api.entrypoints.http.security import AccountId, Editor, Reader, Services, fingerprint, idempotent

router = APIRouter(prefix="/v1/accounts/{account_id}", tags=["insights"])


@router.get("/performance", response_model=PerformanceOut, responses=READ_ERRORS, summary="Performance over dates")
async def performance(
    account_id: AccountId,
    who: Reader,
    api: Services,
    from_: Annotated[date | None, Query(alias="from", description="First day (UTC), default 30 days ago.")] = None,
    to: Annotated[date | None, Query(description="Last day (UTC, inclusive), default today.")] = None,
) -> JSONResponse:
    period = reporting_period(first=from_, last=to, today=datetime.now(UTC).date())
    summary = await api.insights.performance(account_id, period)
    body = PerformanceOut.model_validate(
        {
            **{key: value for key, value in summary.__dict__.items() if key != "top_questions"},
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "top_questions": [{"question": q.question, "count": q.count} for q in summary.top_questions],
        }
    )
    return JSONResponse(body.model_dump(mode="json", by_alias=True))


@router.get(
    "/knowledge-gaps",
    response_model=KnowledgeGapList,
    responses=READ_ERRORS,
    summary="Unanswered questions, grouped and counted",
)
async def list_gaps(
    account_id: AccountId,
    who: Reader,
    api: Services,
    status: Annotated[
        Literal["open", "resolved", "dismissed"] | None,
        Query(
            description="Only gaps in this state. A resolved or dismissed gap is listed until it has been closed "
            "for ADMIN_CLOSED_GAP_RETENTION_DAYS (180 by default), then deleted."
        ),
    ] = "open",
) -> KnowledgeGapList:
    return KnowledgeGapList(items=[gap_out(row) for row in await api.insights.gaps(account_id, status)])


@router.post(
    "/knowledge-gaps/{gap_id}/dismiss",
    response_model=KnowledgeGapOut,
    responses={**EDIT_ERRORS, **error_responses(409)},
    summary="Set a gap aside without adding content",
)
async def dismiss_gap(
    account_id: AccountId,
    gap_id: Annotated[str, Path(min_length=1, max_length=60)],
    who: Editor,
    api: Services,
) -> KnowledgeGapOut:
    return gap_out(await api.insights.dismiss_gap(account_id, actor=who.key_id, gap_id=gap_id))


@router.post(
    "/knowledge-gaps/{gap_id}/resolve",
    status_code=201,
    response_model=ResolvedGapOut,
    responses={**EDIT_ERRORS, **error_responses(409)},
    summary="Create a short answer from a gap and resolve it",
)
async def resolve_gap(
    account_id: AccountId,
    gap_id: Annotated[str, Path(min_length=1, max_length=60)],
    body: ResolveGapBody,
    who: Editor,
    api: Services,
    idempotency_key: IdempotencyKey = None,
) -> JSONResponse:
    async def run() -> ResolvedGapOut:
        gap, source = await api.insights.resolve_gap(account_id, who.key_id, gap_id, body.answer, body.question)
        return ResolvedGapOut(gap=gap_out(gap), source=source_out(source))

    return await idempotent(
        api,
        account_id=account_id,
        scope=f"POST /knowledge-gaps/{gap_id}/resolve",
        key=idempotency_key,
        request_fingerprint=fingerprint(body.model_dump(mode="json")),
        status_code=201,
        run=run,
    )
