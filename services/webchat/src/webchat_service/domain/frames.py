"""The WebSocket frames DESIGN.md pins, and the refusals of a visitor's frame."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from customer_agent_shared.events.channels import MessageSend, ThreadHandedOff
from customer_agent_shared.text import replace_lone_surrogates

# Close codes (RFC 6455 and IANA's registry) a widget can act on; the reason says the rest.
CLOSE_GOING_AWAY = 1001
CLOSE_INVALID_FRAME = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_SERVER_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013

# BCP 47 as browsers report it (navigator.language): letters and digits in hyphen-joined subtags.
LOCALE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")


class FrameRefused(ValueError):
    """A visitor's frame that breaks the protocol; the socket closes with ``code`` and the message."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class VisitorMessage:
    """A visitor's ``{"type":"message","text","locale"?}`` frame, checked."""

    text: str
    locale: str | None


def parse_client_frame(raw: str | bytes, *, max_text_chars: int, max_locale_chars: int) -> VisitorMessage:
    """Check a client frame against the protocol; raise ``FrameRefused`` naming what is wrong."""
    try:
        frame = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise FrameRefused(CLOSE_INVALID_FRAME, "frame is not JSON") from error
    except RecursionError as error:
        raise FrameRefused(CLOSE_INVALID_FRAME, "frame nests too deep") from error
    if not isinstance(frame, dict) or frame.get("type") != "message":
        raise FrameRefused(CLOSE_INVALID_FRAME, 'expected {"type":"message","text":...}')
    text = frame.get("text")
    if not isinstance(text, str) or not text.strip():
        raise FrameRefused(CLOSE_INVALID_FRAME, "text must be a non-empty string")
    if len(text) > max_text_chars:
        raise FrameRefused(CLOSE_TOO_BIG, f"text is longer than {max_text_chars} characters")
    locale = frame.get("locale")
    if locale is not None and (
        not isinstance(locale, str) or len(locale) > max_locale_chars or not LOCALE.match(locale)
    ):
        raise FrameRefused(CLOSE_INVALID_FRAME, "locale must be a language tag such as 'da-DK'")
    # A pasted emoji cut in half is still the visitor's message: kept, the broken half shown as "\ufffd".
    return VisitorMessage(text=replace_lone_surrogates(text), locale=locale)


def session_frame(thread_id: str) -> dict[str, Any]:
    """The first frame of every socket."""
    return {"type": "session", "thread_id": thread_id}


def reply_frame(message: MessageSend) -> dict[str, Any]:
    """A reply as the widget shows it."""
    return {
        "type": "message",
        "text": message.text,
        "kind": message.kind.value,
        "language": message.language,
        "author": {"kind": message.author.kind.value, "name": message.author.name},
        "citations": [{"title": citation.title, "url": citation.url} for citation in message.citations],
        "powered_by_ai": message.powered_by_ai,
    }


def handoff_frame(handoff: ThreadHandedOff) -> dict[str, Any]:
    """A person (or the unassigned view) took the thread."""
    return {"type": "handoff", "assignee": handoff.assignee.model_dump(mode="json", include={"kind", "id"})}
