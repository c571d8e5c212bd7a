"""Console: users and teams in tables, each added, edited or removed in a form and saved with the API's PUT of
the whole list, which judges it; a refused form comes back as typed, with the API's words by its fields."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import HTMLResponse

from admin_api.entrypoints.console.client import ApiRefused, Console, SignedIn
from admin_api.entrypoints.console.people_forms import (
    ENDS,
    NEW_ROW,
    STARTS,
    WEEKDAYS,
    PersonForm,
    Resource,
    read_form,
    time_zone_groups,
    time_zones,
)
from admin_api.entrypoints.console.rendering import render

router = APIRouter(prefix="/console/fragments/people", include_in_schema=False)
ResourcePath = Annotated[Resource, Path()]
EntryId = Annotated[str, Form(max_length=200)]
KIND = {"users": "user", "teams": "team"}
OTHERS: dict[Resource, Resource] = {"users": "teams", "teams": "users"}


def _name(entry: dict[str, Any]) -> str:
    return str(entry.get("name") or entry["id"])


async def _people_page(request: Request, console: Console, notice: str | None = None) -> HTMLResponse:
    users, teams = await console.get("/users"), await console.get("/teams")
    context = {
        "console": console,
        "users": users,
        "teams": teams,
        "user_names": {user["id"]: _name(user) for user in users},
        "team_names": {team["id"]: _name(team) for team in teams},
        "notice": notice,
    }
    return render(request, "people.html", context)


def _form_row(
    request: Request, form: PersonForm, others: list[dict[str, Any]], *, refused: bool = False
) -> HTMLResponse:
    """The table row holding a user's or team's form; a refused one replaces the row it was sent from."""
    listed = {entry["id"] for entry in others}
    chosen = form.entry.get("team_ids" if form.resource == "users" else "member_ids") or []
    context = {
        "form": form,
        "kind": KIND[form.resource],
        "choices": [(entry["id"], _name(entry)) for entry in others] + [(i, i) for i in chosen if i not in listed],
        "chosen": set(chosen),
        "zone_groups": time_zone_groups(),
        "unknown_zone": None if form.timezone in time_zones() | {"UTC"} else form.timezone,
        "weekdays": WEEKDAYS,
        "starts": STARTS,
        "ends": ENDS,
        "new_row": NEW_ROW,
    }
    if not refused:
        return render(request, "people_form.html", context)
    headers = {"HX-Retarget": "closest tr", "HX-Reswap": "outerHTML"}
    return render(request, "people_form.html", context, status_code=form.status, headers=headers)


@router.get("", response_class=HTMLResponse)
async def people_page(request: Request, console: SignedIn) -> HTMLResponse:
    """Users and teams: working hours, availability, capacity."""
    return await _people_page(request, console)


@router.get("/{resource}/form", response_class=HTMLResponse)
async def entry_form(
    request: Request, console: SignedIn, resource: ResourcePath, id: Annotated[str, Query(max_length=200)] = ""
) -> HTMLResponse:
    """The form of a user or team (a new one without an id), in place of its row."""
    entries = await console.get(f"/{resource}")
    entry = next((entry for entry in entries if entry["id"] == id), None)
    if id and entry is None:
        raise ApiRefused(
            404, "not_found", f"The {KIND[resource]} {id!r} is no longer on this account; reload the page."
        )
    return _form_row(request, PersonForm.of(resource, entry), await console.get(f"/{OTHERS[resource]}"))


@router.post("/{resource}/save", response_class=HTMLResponse)
async def save_entry(request: Request, console: SignedIn, resource: ResourcePath) -> HTMLResponse:
    """Add or change one user or team: the whole list goes back to the API with this entry in it."""
    form = read_form(resource, await request.form())
    others = await console.get(f"/{OTHERS[resource]}")
    if not form.check():
        return _form_row(request, form, others, refused=True)
    entries: list[dict[str, Any]] = await console.get(f"/{resource}")
    body = form.body()[0]
    if not form.original_id:
        index = len(entries)
        entries.append(body)
    else:
        index = next((i for i, entry in enumerate(entries) if entry["id"] == form.original_id), -1)
        if index < 0:
            message = f"The {KIND[resource]} {form.original_id!r} was removed meanwhile; reload the page."
            raise ApiRefused(404, "not_found", message)
        entries[index] = {**entries[index], **body}  # fields the form does not show stay as they are
    try:
        await console.call("PUT", f"/{resource}", json=entries)
    except ApiRefused as refusal:
        if refusal.status != 422:
            raise
        form.refused(status=refusal.status, message=refusal.message, details=refusal.details, index=index)
        return _form_row(request, form, others, refused=True)
    return await _people_page(request, console, f"{KIND[resource].capitalize()} {_name(body)!r} saved.")


@router.post("/{resource}/remove", response_class=HTMLResponse)
async def remove_entry(request: Request, console: SignedIn, resource: ResourcePath, id: EntryId) -> HTMLResponse:
    """Remove one user or team (the API refuses while a team or a handoff rule still names it)."""
    entries = await console.get(f"/{resource}")
    kept = [entry for entry in entries if entry["id"] != id]
    if len(kept) == len(entries):
        return await _people_page(request, console, f"The {KIND[resource]} {id!r} was already gone.")
    await console.call("PUT", f"/{resource}", json=kept)
    return await _people_page(request, console, f"The {KIND[resource]} {id!r} was removed.")


@router.post("/users/availability", response_class=HTMLResponse)
async def set_availability(
    request: Request, console: SignedIn, id: EntryId, available: Annotated[bool, Form()]
) -> HTMLResponse:
    """Mark one user available or away."""
    users = await console.get("/users")
    if not any(user["id"] == id for user in users):
        return await _people_page(request, console, f"The user {id!r} was already gone.")
    for user in users:
        if user["id"] == id:
            user["available"] = available
    await console.call("PUT", "/users", json=users)
    return await _people_page(request, console, f"{id} is now {'available' if available else 'away'}.")
