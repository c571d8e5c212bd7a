"""CloudEvent envelope and every event model of the system, with their type names."""

from customer_agent_shared.events.envelope import (
    CloudEvent,
    EventParseError,
    RawCloudEvent,
    make_event,
    new_event_id,
    parse_envelope,
    parse_event,
    serialize_event,
)

__all__ = [
    "CloudEvent",
    "EventParseError",
    "RawCloudEvent",
    "make_event",
    "new_event_id",
    "parse_envelope",
    "parse_event",
    "serialize_event",
]
