"""Availability messages every new account starts with, one set per language.

The sentences are data, ``data/availability-messages.json`` (language → the five messages), read once at import.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from customer_agent_shared.events.config import AvailabilityMessages

_DATA_FILE = "availability-messages.json"


def parse_defaults(text: str) -> dict[str, AvailabilityMessages]:
    """The JSON text of the defaults as language → messages; ValueError for a missing or unknown message."""
    raw: dict[str, dict[str, Any]] = json.loads(text)
    known = set(AvailabilityMessages.model_fields)
    parsed: dict[str, AvailabilityMessages] = {}
    for language, messages in raw.items():
        unknown = sorted(set(messages) - known)
        if unknown:
            raise ValueError(f"default messages for {language!r} name unknown messages {unknown}")
        parsed[language] = AvailabilityMessages.model_validate(messages)
    return parsed


def _load() -> dict[str, AvailabilityMessages]:
    data = resources.files("admin_api.domain").joinpath("data", _DATA_FILE)
    return parse_defaults(data.read_text(encoding="utf-8"))


DEFAULT_AVAILABILITY_MESSAGES: dict[str, AvailabilityMessages] = _load()


def messages_with_defaults(custom: dict[str, AvailabilityMessages]) -> dict[str, AvailabilityMessages]:
    """The default languages overlaid by the account's own messages (custom wins per language)."""
    merged = {language: messages.model_copy() for language, messages in DEFAULT_AVAILABILITY_MESSAGES.items()}
    merged.update({language.lower(): messages for language, messages in custom.items()})
    return merged
