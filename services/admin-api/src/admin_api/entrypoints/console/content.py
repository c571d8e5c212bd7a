"""Console: the Content page — sources with live progress, and adding, editing and removing them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse

from admin_api.entrypoints.console.client import Console, SignedIn, segment
from admin_api.entrypoints.console.rendering import render

router = APIRouter(prefix="/console/fragments", include_in_schema=False)
SourceId = Annotated[str, Path(min_length=1, max_length=60)]
Checkbox = Annotated[str | None, Form()]
IN_PROGRESS = frozenset({"pending", "syncing"})


def _checked(value: str | None) -> bool:
    return value is not None and value not in ("", "false", "off")


def busy(source: dict[str, Any]) -> bool:
    """Whether a source is still moving: syncing, or its vectors still being computed."""
    embedding = source["state"] == "ready" and source["embedded_chunks"] < source["chunks"]
    return source["state"] in IN_PROGRESS or embedding


async def _sources(
    request: Request, console: Console, notice: str | None = None, *, template: str = "sources.html"
) -> HTMLResponse:
    items = (await console.get("/sources"))["items"]
    context = {"console": console, "sources": items, "polling": any(busy(s) for s in items), "notice": notice}
    return render(request, template, context)


@router.get("/content", response_class=HTMLResponse)
async def content_page(request: Request, console: SignedIn) -> HTMLResponse:
    """The Content page: forms to add sources, and the list of sources."""
    return await _sources(request, console, template="content.html")


@router.get("/sources", response_class=HTMLResponse)
async def sources_list(request: Request, console: SignedIn) -> HTMLResponse:
    """The sources with their progress (polled while any is moving)."""
    return await _sources(request, console)


@router.post("/sources/url", response_class=HTMLResponse)
async def add_url(
    request: Request,
    console: SignedIn,
    url: Annotated[str, Form()],
    import_related: Checkbox = None,
    private: Checkbox = None,
    citations_enabled: Checkbox = None,
) -> HTMLResponse:
    """Add a web page (and, with import_related, its site)."""
    body = {
        "kind": "url",
        "url": url.strip(),
        "import_related": _checked(import_related),
        "private": _checked(private),
        "citations_enabled": _checked(citations_enabled),
    }
    await console.call("POST", "/sources", json=body)
    return await _sources(request, console, notice=f"Added {body['url']}; it syncs now.")


@router.post("/sources/short-answer", response_class=HTMLResponse)
async def add_short_answer(
    request: Request,
    console: SignedIn,
    question: Annotated[str, Form()],
    answer: Annotated[str, Form()],
    citations_enabled: Checkbox = None,
) -> HTMLResponse:
    """Add a short answer."""
    body = {
        "kind": "short_answer",
        "question": question.strip(),
        "answer": answer.strip(),
        "citations_enabled": _checked(citations_enabled),
    }
    await console.call("POST", "/sources", json=body)
    return await _sources(request, console, notice="Short answer added; it is being indexed.")


@router.post("/sources/{source_id}/edit", response_class=HTMLResponse)
async def edit_short_answer(
    request: Request,
    console: SignedIn,
    source_id: SourceId,
    question: Annotated[str, Form()],
    answer: Annotated[str, Form()],
) -> HTMLResponse:
    """Change a short answer's question and answer."""
    body = {"question": question.strip(), "answer": answer.strip()}
    await console.call("PATCH", f"/sources/{segment(source_id)}", json=body)
    return await _sources(request, console, notice="Short answer saved.")


@router.post("/sources/{source_id}/set", response_class=HTMLResponse)
async def set_flag(
    request: Request,
    console: SignedIn,
    source_id: SourceId,
    field: Annotated[Literal["citations_enabled", "private"], Form()],
    value: Annotated[bool, Form()],
) -> HTMLResponse:
    """Turn citations or privacy on or off."""
    await console.call("PATCH", f"/sources/{segment(source_id)}", json={field: value})
    return await _sources(request, console)


@router.post("/sources/{source_id}/resync", response_class=HTMLResponse)
async def resync(request: Request, console: SignedIn, source_id: SourceId) -> HTMLResponse:
    """Sync a source again."""
    await console.call("POST", f"/sources/{segment(source_id)}/resync")
    return await _sources(request, console, notice="Sync started again.")


@router.post("/sources/{source_id}/remove", response_class=HTMLResponse)
async def remove(request: Request, console: SignedIn, source_id: SourceId) -> HTMLResponse:
    """Remove a source and its content."""
    await console.call("DELETE", f"/sources/{segment(source_id)}")
    return await _sources(request, console, notice="Source removed.")
