"""Routing's own metrics (labels are bounded enums, never account or thread ids)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

DECISIONS = Counter(
    "customer_agent_routing_decisions_total",
    "Routing decisions by outcome (assigned_to_agent, forwarded_to_inbox, handed_off, stayed_assigned, ignored).",
    ["outcome"],
)
HANDOFFS = Counter(
    "customer_agent_routing_handoffs_total",
    "Threads handed off, by reason and by kind of receiver (user, team, unassigned).",
    ["reason", "assignee_kind"],
)
NOTICES = Counter(
    "customer_agent_routing_visitor_notices_total",
    "Availability and handoff-unavailable messages sent to visitors, by kind.",
    ["kind"],
)
DUPLICATE_MESSAGES = Counter(
    "customer_agent_routing_duplicate_messages_total",
    "Inbound messages whose message_id was already routed (re-published under a new event id).",
)
DECISION_SECONDS = Histogram(
    "customer_agent_routing_decision_seconds",
    "Time from an inbound message (its sent_at, or when routing received it) to the committed decision.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
INBOX_ACTIONS = Counter(
    "customer_agent_routing_inbox_actions_total",
    "Inbox events (thread.closed, thread.reassigned, thread.returned, user.availability) by whether they "
    "changed routing's state (applied) or found nothing to change (ignored: thread not open, older presence).",
    ["type", "outcome"],
)
