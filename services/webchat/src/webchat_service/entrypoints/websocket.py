"""The visitor's WebSocket: ``/v1/webchat/{account_id}/{channel_id}`` (``?thread_id=`` resumes).

The server sends ``session`` first, then ``message`` and ``handoff`` frames read from the thread's
replay buffer; the visitor sends ``message`` frames. A protocol breach, an overlong frame, a spent
budget or a long silence closes the socket with a close code and a reason the widget shows.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.websockets import WebSocketDisconnect, WebSocketState

from webchat_service.adapters.feed import ThreadFeed
from webchat_service.adapters.rate_limits import VisitorBudgets
from webchat_service.adapters.threads import READ_BATCH, ThreadStore
from webchat_service.domain.frames import (
    CLOSE_GOING_AWAY,
    CLOSE_SERVER_ERROR,
    CLOSE_TOO_BIG,
    CLOSE_TRY_AGAIN_LATER,
    FrameRefused,
    parse_client_frame,
    session_frame,
)
from webchat_service.domain.origins import OriginAllowlist, is_own_origin
from webchat_service.domain.sessions import Session, path_ids_refusal
from webchat_service.entrypoints import paths  # noqa: F401  (registers the {channel_id} parameter)
from webchat_service.handlers.visitors import PublishFailed, VisitorChats
from webchat_service.metrics import FRAMES_DELIVERED, OPEN_SOCKETS, REFUSALS
from webchat_service.settings import WebchatSettings

logger = logging.getLogger(__name__)

router = APIRouter()

CANCEL_WAIT_SECONDS = 5.0
"""How long a closed chat waits for its reading and delivering tasks to end once cancelled."""


@dataclass
class ChatRuntime:
    """What the sockets of one process share."""

    settings: WebchatSettings
    allowlist: OriginAllowlist
    visitors: VisitorChats
    store: ThreadStore
    feed: ThreadFeed
    budgets: VisitorBudgets


@router.websocket("/v1/webchat/{account_id}/{channel_id:channel}")
async def chat(websocket: WebSocket, account_id: str, channel_id: str, thread_id: str | None = None) -> None:
    """One visitor's chat on an account's live-chat channel (a channel id may hold ``/``: the rest of the path)."""
    runtime: ChatRuntime = websocket.app.state.chat
    refusal = await _admission(runtime, websocket, account_id, channel_id)
    if refusal is not None:
        status, reason = refusal
        REFUSALS.labels(reason="origin" if status == 403 else "rate_limit" if status == 429 else "invalid_path").inc()
        await websocket.send_denial_response(JSONResponse({"error": {"code": status, "message": reason}}, status))
        return
    session = await runtime.visitors.open(account_id, channel_id, thread_id[:200] if thread_id else None)
    await websocket.accept()
    await websocket.send_json(session_frame(session.thread.thread_id))
    logger.info(
        "visitor connected",
        extra={"account_id": account_id, "thread_id": session.thread.thread_id, "resumed": session.resumed},
    )
    OPEN_SOCKETS.inc()
    try:
        await _converse(runtime, websocket, session)
    finally:
        OPEN_SOCKETS.dec()


async def _admission(
    runtime: ChatRuntime, websocket: WebSocket, account_id: str, channel_id: str
) -> tuple[int, str] | None:
    """Why the socket is refused (HTTP status, message), or None to accept it."""
    refusal = path_ids_refusal(account_id, channel_id)
    if refusal is not None:
        return 404, refusal
    origin = websocket.headers.get("origin", "")
    own = runtime.settings.allow_own_origin and is_own_origin(origin, websocket.headers.get("host", ""))
    if not own and not runtime.allowlist.allows(origin, account_id=account_id, channel_id=channel_id):
        where = f"{account_id}/{channel_id}"
        return 403, f"origin {origin or '(none)'} may not open chats on {where} (WEBCHAT_ALLOWED_ORIGINS)"
    address = websocket.client.host if websocket.client else "unknown"
    if not await runtime.budgets.allow_session(address):
        return 429, f"too many chats opened from this address (at most {runtime.budgets.session_limit})"
    return None


async def _converse(runtime: ChatRuntime, websocket: WebSocket, session: Session) -> None:
    """Read the visitor's frames and deliver the thread's frames until either side ends."""
    reading = asyncio.create_task(_read(runtime, websocket, session))
    delivering = asyncio.create_task(_deliver(runtime, websocket, session))
    try:
        await asyncio.wait({reading, delivering}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (reading, delivering):
            task.cancel()
        # Bounded: a task that ignored its cancellation must not keep the socket's handler (and so the
        # server's shutdown) waiting for ever.
        _, stuck = await asyncio.wait({reading, delivering}, timeout=CANCEL_WAIT_SECONDS)
        if stuck:
            logger.warning("a chat task ignored its cancellation", extra={"tasks": len(stuck)})
        for task in (reading, delivering):
            if task.done() and not task.cancelled():
                with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                    task.result()


async def _read(runtime: ChatRuntime, websocket: WebSocket, session: Session) -> None:
    settings = runtime.settings
    while True:
        try:
            async with asyncio.timeout(settings.idle_timeout_seconds):
                message = await websocket.receive()
        except TimeoutError:
            await _close(websocket, CLOSE_GOING_AWAY, "idle", f"idle for {settings.idle_timeout_seconds:.0f} s")
            return
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text") or message.get("bytes") or ""
        size = len(raw.encode()) if isinstance(raw, str) else len(raw)
        if size > settings.max_frame_bytes:
            await _close(websocket, CLOSE_TOO_BIG, "too_big", f"frame larger than {settings.max_frame_bytes} bytes")
            return
        try:
            frame = parse_client_frame(
                raw, max_text_chars=settings.max_text_chars, max_locale_chars=settings.max_locale_chars
            )
        except FrameRefused as refused:
            await _close(websocket, refused.code, "invalid_frame", str(refused))
            return
        if not await runtime.budgets.allow_message(session.visitor_id):
            limit = runtime.budgets.message_limit
            await _close(websocket, CLOSE_TRY_AGAIN_LATER, "rate_limit", f"too many messages (at most {limit})")
            return
        try:
            await runtime.visitors.write(session, frame)
        except PublishFailed as error:
            logger.warning("visitor message not published", extra={"error": str(error)})
            await _close(websocket, CLOSE_SERVER_ERROR, "publish_failed", "message not delivered; send it again")
            return


async def _deliver(runtime: ChatRuntime, websocket: WebSocket, session: Session) -> None:
    """Send every frame of the thread after the last one delivered, as soon as it is appended."""
    thread, store = session.thread, runtime.store
    with runtime.feed.watch(thread) as appended:
        cursor = await store.cursor(thread)
        while True:
            appended.clear()
            batch: list[tuple[str, str]] = []
            try:
                batch = await store.frames_after(thread, cursor)
                for entry_id, frame in batch:
                    await websocket.send_text(frame)
                    FRAMES_DELIVERED.labels(type=json.loads(frame).get("type", "unknown")).inc()
                    cursor = entry_id
                    await store.delivered(thread, cursor)
            except (RedisError, OSError) as error:
                logger.warning("replay buffer unreadable; retrying", extra={"error": repr(error)})
            if len(batch) < READ_BATCH:
                # asyncio.timeout, not wait_for: Python 3.11's wait_for can swallow a cancellation that arrives
                # as the wait ends, and this loop would then outlive its socket and hold the server's shutdown.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(runtime.settings.feed_poll_seconds):
                        await appended.wait()


async def _close(websocket: WebSocket, code: int, reason_label: str, reason: str) -> None:
    REFUSALS.labels(reason=reason_label).inc()
    if websocket.application_state == WebSocketState.CONNECTED:
        # RFC 6455 allows at most 123 bytes of reason.
        await websocket.close(code=code, reason=reason.encode()[:123].decode(errors="ignore"))
