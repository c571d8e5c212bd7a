"""Console: the Agent page (profile, pause and resume) and the Preview chat."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from customer_agent_shared.events.config import AgentRole, Personality
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from admin_api.entrypoints.console.client import ApiRefused, Console, SignedIn
from admin_api.entrypoints.console.rendering import render

router = APIRouter(prefix="/console/fragments", include_in_schema=False)

LOCALES = {
    "en-US": "English",
    "da-DK": "Dansk",
    "de-DE": "Deutsch",
    "sv-SE": "Svenska",
    "nb-NO": "Norsk",
    "fi-FI": "Suomi",
    "nl-NL": "Nederlands",
    "fr-FR": "Français",
    "es-ES": "Español",
    "it-IT": "Italiano",
    "pt-BR": "Português",
    "pl-PL": "Polski",
    "ja-JP": "日本語",
}
STATUS_TEXT = {
    "running": "Running: the agent takes new conversations on its channels.",
    "paused_manual": "Paused by hand: new conversations go to each channel's handoff rule; threads the agent "
    "already has stay with it.",
    "paused_credits_exhausted": "Paused because the credits are used up: new conversations go to each channel's "
    "handoff rule until credits return (reset date, purchase or auto-upgrade).",
}


async def _status(console: Console) -> dict[str, Any]:
    status: dict[str, Any] = await console.get("/agent/status")
    status["text"] = STATUS_TEXT.get(status["status"], status["status"])
    return status


def _status_panel(request: Request, console: Console, status: dict[str, Any], notice: str | None) -> HTMLResponse:
    return render(request, "agent_status.html", {"console": console, "status": status, "notice": notice})


def _choices() -> dict[str, list[str]]:
    return {"roles": [r.value for r in AgentRole], "personalities": [p.value for p in Personality]}


@router.get("/agent", response_class=HTMLResponse)
async def agent_page(request: Request, console: SignedIn) -> HTMLResponse:
    """The agent's profile and whether it runs."""
    response = await console.call("GET", "/agent")
    context = {
        "console": console,
        "profile": response.json(),
        "etag": response.headers.get("etag", ""),
        **_choices(),
        "status": await _status(console),
    }
    return render(request, "agent.html", context)


@router.post("/agent", response_class=HTMLResponse)
async def save_profile(
    request: Request,
    console: SignedIn,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    personality: Annotated[str, Form()],
    etag: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Save name, role and personality (refused if someone changed the profile since it was shown)."""
    headers = {"If-Match": etag} if etag else None
    body = {"name": name.strip(), "role": role, "personality": personality}
    try:
        response = await console.call("PUT", "/agent", json=body, headers=headers)
    except ApiRefused as refused:
        if refused.status != 412:
            raise
        # Saved by someone else since this form was shown: say what it holds now, keep what was typed, and
        # carry the new ETag, so that saving again knowingly replaces theirs.
        current = await console.call("GET", "/agent")
        etag = current.headers.get("etag", "")
        context = {"console": console, "profile": body, "etag": etag, "theirs": current.json(), **_choices()}
        return render(request, "agent_form.html", context, status_code=412)
    context = {"console": console, "profile": response.json(), "etag": response.headers.get("etag", "")}
    return render(request, "agent_form.html", {**context, **_choices(), "notice": "Profile saved."})


@router.post("/agent/pause", response_class=HTMLResponse)
async def pause(request: Request, console: SignedIn) -> HTMLResponse:
    """Pause the agent."""
    await console.call("POST", "/agent/pause")
    return _status_panel(request, console, await _status(console), "Agent paused.")


@router.post("/agent/resume", response_class=HTMLResponse)
async def resume(request: Request, console: SignedIn) -> HTMLResponse:
    """Resume the agent."""
    await console.call("POST", "/agent/resume")
    return _status_panel(request, console, await _status(console), "Agent resumed.")


@router.get("/preview", response_class=HTMLResponse)
async def preview_page(request: Request, console: SignedIn) -> HTMLResponse:
    """Ask as a visitor; shows too what a new conversation on each channel would meet."""
    context = {
        "console": console,
        "locales": LOCALES,
        "thread_id": f"console-preview-{uuid.uuid4().hex[:12]}",
        "status": await _status(console),
        "channels": (await console.get("/channels"))["items"],
    }
    return render(request, "preview.html", context)


@router.post("/preview", response_class=HTMLResponse)
async def ask(
    request: Request,
    console: SignedIn,
    text: Annotated[str, Form()],
    thread_id: Annotated[str, Form()],
    locale: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """The visitor's question and the agent's answer, appended to the preview transcript."""
    body = {"text": text, "thread_id": thread_id, "locale": locale or None}
    reply = (await console.call("POST", "/agent/preview", json=body)).json()
    return render(request, "preview_exchange.html", {"question": text, "locale": locale, "reply": reply})
