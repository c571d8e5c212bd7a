"""Conversation's tables, all in its own schema."""

from __future__ import annotations

from customer_agent_shared.persistence.inbox import define_inbox_table
from customer_agent_shared.persistence.outbox import define_outbox_table
from sqlalchemy import MetaData

SCHEMA = "conversation"

metadata = MetaData(schema=SCHEMA)
outbox_table = define_outbox_table(metadata)
inbox_table = define_inbox_table(metadata)
