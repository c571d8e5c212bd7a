"""Webchat's own Prometheus metrics (the shared ones count events published and consumed)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

OPEN_SOCKETS = Gauge("customer_agent_webchat_open_sockets", "Visitor sockets open on this replica.")
VISITOR_MESSAGES = Counter(
    "customer_agent_webchat_visitor_messages_total", "Visitor messages published to channels.inbound.v1."
)
FRAMES_DELIVERED = Counter(
    "customer_agent_webchat_frames_delivered_total", "Frames sent to visitors' sockets, by type.", ["type"]
)
FRAMES_KEPT = Counter(
    "customer_agent_webchat_frames_kept_total",
    "Replies and handoffs heard on Kafka, by outcome (appended, duplicate, not_held, skipped).",
    ["outcome"],
)
REFUSALS = Counter(
    "customer_agent_webchat_refusals_total",
    "Sockets refused or closed by webchat, by reason (origin, rate_limit, invalid_frame, too_big, idle, ...).",
    ["reason"],
)
