"""The credits each account used on each UTC day, as billing's credit states report them (``usage_by_day``):
GET /performance's credits used.

Seeded from the credit state already stored when its history reaches back to the account's opening (so it
holds every charge and refund); other accounts get their days with billing's next state, which carries the
last 35.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from customer_agent_shared.persistence.partitions import quoted

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.create_table(
        "credit_usage_days",
        sa.Column("account_id", sa.String(100), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("credits", sa.BigInteger, nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Index("ix_credit_usage_days_day", "day"),
        schema=schema,
    )
    # The oldest entry of a whole history is the opening allotment (the only one caused by a period).
    op.execute(
        sa.text(
            f"""
            INSERT INTO {quoted(schema)}.credit_usage_days (account_id, day, credits, version)
            SELECT account_id, ((entry->>'recorded_at')::timestamptz AT TIME ZONE 'UTC')::date,
                   -sum((entry->>'amount')::bigint), version
            FROM {quoted(schema)}.credit_states, jsonb_array_elements(state->'recent_entries') AS entry
            WHERE entry->>'kind' IN ('usage', 'refund')
              AND state->'recent_entries'-> -1 ->>'kind' = 'allotment'
              AND state->'recent_entries'-> -1 ->>'cause' LIKE 'period:%'
            GROUP BY 1, 2, 4
            """
        )
    )


def downgrade() -> None:
    op.drop_table("credit_usage_days", schema=context.config.attributes.get("schema", "admin"))
