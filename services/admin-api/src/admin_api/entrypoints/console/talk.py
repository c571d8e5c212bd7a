"""Console: the Agent page (profile, pause and resume) and the Preview chat."""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any

from customer_agent_shared.events.config import AgentRole, Personality
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from admin_api.entrypoints.console.client import ApiRefused, Console, SignedIn, see_fields_marked
from admin_api.entrypoints.console.rendering import render

router = APIRouter(prefix="/console/fragments", include_in_schema=False)

PROFILE_FIELDS = frozenset({"name", "role", "personality", "answer_threshold"})  # each shows its problems
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


def typed_threshold(text: str) -> float | str | None:
    """The form's answer threshold as PUT /agent takes it: blank is null (the tuned default), a decimal comma reads as
    a point, anything but a finite number goes as typed for the API to word the refusal."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text.replace(",", ".", 1) if text.count(",") == 1 and "." not in text else text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text


def profile_form(
    console: Console,
    profile: dict[str, Any],
    *,
    etag: str,
    theirs: dict[str, Any] | None = None,
    refused: ApiRefused | None = None,
) -> dict[str, Any]:
    """The profile form's context; a refusal's details by the field they name."""
    errors: dict[str, list[str]] = {}
    for detail in refused.details if refused else []:
        errors.setdefault(str(detail.get("field", "")), []).append(str(detail.get("problem", "invalid")))
    all_marked = bool(errors) and errors.keys() <= PROFILE_FIELDS
    return {
        "console": console,
        "profile": profile,
        "etag": etag,
        "theirs": theirs,
        "refused": refused,
        "errors": errors,
        "marked": see_fields_marked(len(errors)) if all_marked else "",
        "roles": [r.value for r in AgentRole],
        "personalities": [p.value for p in Personality],
    }


@router.get("/agent", response_class=HTMLResponse)
async def agent_page(request: Request, console: SignedIn) -> HTMLResponse:
    """The agent's profile and whether it runs."""
    response = await console.call("GET", "/agent")
    context = profile_form(console, response.json(), etag=response.headers.get("etag", ""))
    return render(request, "agent.html", {**context, "status": await _status(console)})


@router.post("/agent", response_class=HTMLResponse)
async def save_profile(
    request: Request,
    console: SignedIn,
    name: Annotated[str, Form()],
    role: Annotated[str, Form()],
    personality: Annotated[str, Form()],
    etag: Annotated[str, Form()] = "",
) -> HTMLResponse:
    """Save the profile (refused if someone changed it since it was shown); a form without the answer threshold
    keeps the stored one, a blank one goes back to the tuned default."""
    headers = {"If-Match": etag} if etag else None
    body: dict[str, Any] = {"name": name.strip(), "role": role, "personality": personality}
    typed = (await request.form()).get("answer_threshold")  # FastAPI would read a blank field as a missing one
    if typed is not None:
        body["answer_threshold"] = typed_threshold(str(typed))
    shown = {**body, "answer_threshold": str(typed).strip()} if typed is not None else body
    try:
        response = await console.call("PUT", "/agent", json=body, headers=headers)
    except ApiRefused as refused:
        if refused.status == 422:
            context = profile_form(console, shown, etag=etag, refused=refused)
            return render(request, "agent_form.html", context, status_code=422)
        if refused.status != 412:
            raise
        # Saved by someone else since this form was shown: say what it holds now, keep what was typed, and
        # carry the new ETag, so that saving again knowingly replaces theirs.
        current = await console.call("GET", "/agent")
        theirs = current.json()
        typed_or_theirs = {"answer_threshold": theirs.get("answer_threshold"), **shown}
        context = profile_form(console, typed_or_theirs, etag=current.headers.get("etag", ""), theirs=theirs)
        return render(request, "agent_form.html", context, status_code=412)
    context = profile_form(console, response.json(), etag=response.headers.get("etag", ""))
    return render(request, "agent_form.html", {**context, "notice": "Profile saved."})


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
