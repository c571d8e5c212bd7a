"""Console: performance charts, knowledge gaps, credits and the audit log."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from admin_api.entrypoints.console.charts import Bucket, buckets, performance_charts
from admin_api.entrypoints.console.client import ApiRefused, Console, SignedIn, segment
from admin_api.entrypoints.console.rendering import render

router = APIRouter(prefix="/console/fragments", include_in_schema=False)
GapId = Annotated[str, Path(min_length=1, max_length=60)]
DEFAULT_DAYS = 30
PARALLEL_CALLS = 4
AUDIT_PAGE_SIZE = 50
DAY_CHARS = 40
"""Longest date filter read: a longer one is refused unread; a shorter one that is no date, in words (a date
field lets a person type a six-digit year)."""


def _day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError as error:
        raise ApiRefused(422, "invalid_request", f"{value!r} is not a date (YYYY-MM-DD).") from error


async def _series(console: Console, periods: list[Bucket]) -> list[dict[str, Any]]:
    """The performance figures of each bucket, a few calls at a time."""
    gate = asyncio.Semaphore(PARALLEL_CALLS)

    async def one(bucket: Bucket) -> dict[str, Any]:
        async with gate:
            figures: dict[str, Any] = await console.get(
                "/performance", **{"from": bucket.first.isoformat(), "to": bucket.last.isoformat()}
            )
            return figures

    return list(await asyncio.gather(*(one(bucket) for bucket in periods)))


@router.get("/performance", response_class=HTMLResponse)
async def performance_page(
    request: Request,
    console: SignedIn,
    first: Annotated[str | None, Query(alias="from", max_length=DAY_CHARS)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=DAY_CHARS)] = None,
) -> HTMLResponse:
    """Figures and charts over a chosen period (the API says which periods it takes)."""
    today = datetime.now(UTC).date()
    end = _day(last, today)
    start = _day(first, end - timedelta(days=DEFAULT_DAYS - 1))
    summary = await console.get("/performance", **{"from": start.isoformat(), "to": end.isoformat()})
    periods = buckets(date.fromisoformat(summary["from"]), date.fromisoformat(summary["to"]))
    charts = performance_charts(periods, await _series(console, periods), summary)
    context = {
        "console": console,
        "summary": summary,
        "charts": {name: json.dumps(config) for name, config in charts.items()},
    }
    return render(request, "performance.html", context)


async def _gaps_page(request: Request, console: Console, status: str, notice: str | None = None) -> HTMLResponse:
    gaps = (await console.get("/knowledge-gaps", status=status))["items"]
    return render(request, "gaps.html", {"console": console, "gaps": gaps, "status": status, "notice": notice})


@router.get("/gaps", response_class=HTMLResponse)
async def gaps_page(
    request: Request, console: SignedIn, status: Annotated[str, Query(pattern="^(open|resolved|dismissed)$")] = "open"
) -> HTMLResponse:
    """Questions the agent could not answer, most frequent first."""
    return await _gaps_page(request, console, status)


@router.post("/gaps/{gap_id}/resolve", response_class=HTMLResponse)
async def resolve_gap(
    request: Request,
    console: SignedIn,
    gap_id: GapId,
    answer: Annotated[str, Form()],
    question: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Turn a gap into a short answer."""
    body = {"answer": answer.strip(), "question": question.strip() or None}
    await console.call("POST", f"/knowledge-gaps/{segment(gap_id)}/resolve", json=body)
    return await _gaps_page(request, console, "open", "Resolved: the answer is now a short answer on the Content page.")


@router.post("/gaps/{gap_id}/dismiss", response_class=HTMLResponse)
async def dismiss_gap(request: Request, console: SignedIn, gap_id: GapId) -> HTMLResponse:
    """Set a gap aside."""
    await console.call("POST", f"/knowledge-gaps/{segment(gap_id)}/dismiss")
    return await _gaps_page(request, console, "open", "Gap dismissed.")


@router.get("/credits", response_class=HTMLResponse)
async def credits_page(request: Request, console: SignedIn) -> HTMLResponse:
    """Balance, allotment, reset date and plan (purchases and plan changes take the operator's token)."""
    credits, status = await console.get("/credits"), await console.get("/agent/status")
    return render(request, "credits.html", {"console": console, "credits": credits, "status": status})


def _moment(day: str | None, *, end: bool) -> str | None:
    """A filter day as the RFC 3339 instant the API takes (an end day includes the whole day)."""
    if not day:
        return None
    moment = datetime.combine(_day(day, date.today()), datetime.min.time(), tzinfo=UTC)
    return (moment + timedelta(days=1 if end else 0)).isoformat()


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    request: Request,
    console: SignedIn,
    target_type: Annotated[str, Query(max_length=60)] = "",
    action: Annotated[str, Query(max_length=40)] = "",
    first: Annotated[str, Query(alias="from", max_length=DAY_CHARS)] = "",
    last: Annotated[str, Query(alias="to", max_length=DAY_CHARS)] = "",
    before_id: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """Recorded changes, newest first, filtered."""
    page = await console.get(
        "/audit-log",
        target_type=target_type,
        action=action,
        before_id=before_id,
        limit=AUDIT_PAGE_SIZE,
        **{"from": _moment(first, end=False), "to": _moment(last, end=True)},
    )
    filters = {"target_type": target_type, "action": action, "from": first, "to": last}
    return render(request, "audit.html", {"console": console, "page": page, "filters": filters})
