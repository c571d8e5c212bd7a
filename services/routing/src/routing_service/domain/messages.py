"""The texts the visitor sees, in the visitor's language."""

from __future__ import annotations

from dataclasses import dataclass

from customer_agent_shared.events.config import AvailabilityMessages, HandoffSettings

from routing_service.domain.handoff import Notice

FALLBACK_LANGUAGE = "en"
BUILT_IN_TEXTS = AvailabilityMessages(
    available="Thanks for your patience. A member of our team will be with you shortly.",
    away="Our team is away right now. We will get back to you as soon as we can.",
    at_capacity="Our team is helping other customers right now. We will get back to you as soon as we can.",
    outside_hours="We are outside our business hours right now. We will get back to you when we are back.",
    handoff_unavailable="I cannot transfer you to a person right now, but I will keep helping you here.",
)
"""Used only when the account configured no texts in any usable language."""


@dataclass(frozen=True)
class VisitorText:
    """A text and the language it is written in."""

    language: str
    text: str


def _language_keys(locale: str | None, default_language: str) -> list[str]:
    keys: list[str] = []
    if locale:
        tag = locale.replace("_", "-").lower()
        keys += [tag, tag.split("-")[0]]
    if default_language:
        keys += [default_language.lower(), default_language.lower().split("-")[0]]
    keys.append(FALLBACK_LANGUAGE)
    return [key for index, key in enumerate(keys) if key and key not in keys[:index]]


def notice_text(settings: HandoffSettings, notice: Notice, locale: str | None, default_language: str) -> VisitorText:
    """The configured ``notice`` text for the visitor's locale, else the account default, else English."""
    configured = {language.lower(): (language, texts) for language, texts in settings.messages.items()}
    for key in _language_keys(locale, default_language):
        if key in configured:
            language, texts = configured[key]
            return VisitorText(language, str(getattr(texts, notice.value)))
    return VisitorText(FALLBACK_LANGUAGE, str(getattr(BUILT_IN_TEXTS, notice.value)))
