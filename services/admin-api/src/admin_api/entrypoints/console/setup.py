"""Console: channels and their handoff rules, trigger words and availability messages."""

from __future__ import annotations

from typing import Annotated, Any

from customer_agent_shared.events.channels import ChannelType
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from admin_api.entrypoints.console.client import ApiRefused, Console, SignedIn, segment
from admin_api.entrypoints.console.rendering import render

router = APIRouter(prefix="/console/fragments", include_in_schema=False)
MESSAGE_FIELDS = ("available", "away", "at_capacity", "outside_hours", "handoff_unavailable")
# The channel's id travels in the form, never in the console's path: a browser resolves "/.." in an address and
# splits off "?", so an id holding them would name another path.
ChannelId = Annotated[str, Form(alias="id", min_length=1, max_length=200)]


def parse_targets(text: str) -> list[dict[str, str]]:
    """'team:support, user:u-ada' as handoff targets (the API judges the ids)."""
    targets = []
    for item in text.replace("\n", ",").split(","):
        kind, _, target_id = item.strip().partition(":")
        if not item.strip():
            continue
        if kind.strip() not in ("user", "team") or not target_id.strip():
            message = f"Write each handoff target as user:<id> or team:<id>, not {item!r}."
            raise ApiRefused(422, "invalid_request", message)
        targets.append({"kind": kind.strip(), "id": target_id.strip()})
    return targets


def _rule(mode: str, assign_to: str, update_avatar: str | None) -> dict[str, Any]:
    return {"mode": mode, "assign_to": parse_targets(assign_to), "update_avatar": update_avatar is not None}


async def _channels_page(
    request: Request,
    console: Console,
    notice: str | None = None,
    *,
    typed_triggers: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    handoff = await console.call("GET", "/handoff")
    context = {
        "console": console,
        "channels": (await console.get("/channels"))["items"],
        "channel_types": [t.value for t in ChannelType],
        "handoff": handoff.json(),
        "handoff_etag": handoff.headers.get("etag", ""),
        "typed_triggers": typed_triggers,
        "fields": MESSAGE_FIELDS,
        "notice": notice,
    }
    return render(request, "channels.html", context, status_code=status_code)


@router.get("/channels", response_class=HTMLResponse)
async def channels_page(request: Request, console: SignedIn) -> HTMLResponse:
    """Channels with their handoff rules, trigger words and availability messages."""
    return await _channels_page(request, console)


@router.post("/channels", response_class=HTMLResponse)
async def add_channel(
    request: Request,
    console: SignedIn,
    type: Annotated[str, Form()],
    id: Annotated[str, Form()],
    mode: Annotated[str, Form()] = "handoff",
    assign_to: Annotated[str, Form()] = "",
    update_avatar: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Deploy the agent on a channel."""
    body = {"type": type, "id": id.strip(), "handoff": _rule(mode, assign_to, update_avatar)}
    await console.call("POST", "/channels", json=body)
    return await _channels_page(request, console, f"The agent now answers on {type} {id.strip()}.")


@router.post("/channels/rule", response_class=HTMLResponse)
async def change_rule(
    request: Request,
    console: SignedIn,
    channel_id: ChannelId,
    mode: Annotated[str, Form()],
    assign_to: Annotated[str, Form()] = "",
    update_avatar: Annotated[str | None, Form()] = None,
) -> HTMLResponse:
    """Change a channel's handoff rule."""
    rule = {"handoff": _rule(mode, assign_to, update_avatar)}
    await console.call("PUT", f"/channels/{segment(channel_id)}", json=rule)
    return await _channels_page(request, console, f"Handoff rule of {channel_id} saved.")


@router.post("/channels/remove", response_class=HTMLResponse)
async def remove_channel(request: Request, console: SignedIn, channel_id: ChannelId) -> HTMLResponse:
    """Take the agent off a channel."""
    await console.call("DELETE", f"/channels/{segment(channel_id)}")
    return await _channels_page(request, console, f"The agent left {channel_id}.")


@router.post("/handoff/triggers", response_class=HTMLResponse)
async def save_triggers(
    request: Request, console: SignedIn, triggers: Annotated[str, Form()] = "", etag: Annotated[str, Form()] = ""
) -> HTMLResponse:
    """Replace the trigger words and phrases (one a line)."""
    words = [line.strip() for line in triggers.splitlines() if line.strip()]
    try:
        await console.call("PUT", "/handoff", json={"triggers": words}, headers={"If-Match": etag} if etag else None)
    except ApiRefused as refused:
        if refused.status != 412:
            raise
        # Saved by someone else since the page was shown: theirs are named, the typed ones kept with the new
        # ETag, so that saving again knowingly replaces theirs.
        return await _channels_page(request, console, typed_triggers=words, status_code=412)
    return await _channels_page(request, console, "Trigger words saved.")


@router.post("/handoff/messages", response_class=HTMLResponse)
async def save_messages(request: Request, console: SignedIn) -> HTMLResponse:
    """Set one language's availability messages, keeping the other languages'."""
    form = await request.form()
    language = str(form.get("language", "")).strip()
    texts = {name: str(form.get(name, "")).strip() for name in MESSAGE_FIELDS}
    current = await console.call("GET", "/handoff")
    messages = current.json()["messages"]
    messages[language] = {name: text for name, text in texts.items() if text or name != "handoff_unavailable"}
    headers = {"If-Match": current.headers["etag"]} if "etag" in current.headers else None
    await console.call("PUT", "/handoff", json={"messages": messages}, headers=headers)
    return await _channels_page(request, console, f"Availability messages for {language!r} saved.")
