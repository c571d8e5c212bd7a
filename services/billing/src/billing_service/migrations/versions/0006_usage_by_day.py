"""The credits each account used on each recent UTC day, published with its state (``usage_by_day``).

Filled in from the ledger's charges and refunds of the days a state carries, so the first state published
after the upgrade already holds them.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from customer_agent_shared.events.billing import USAGE_DAYS
from customer_agent_shared.persistence.partitions import quoted
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "billing")
    column = sa.Column("usage_by_day", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb"))
    op.add_column("accounts", column, schema=schema)
    op.execute(
        sa.text(
            f"""
            UPDATE {quoted(schema)}.accounts AS account SET usage_by_day = recent.days
            FROM (
                SELECT account_id, jsonb_object_agg(day, used) AS days
                FROM (
                    SELECT account_id, to_char(recorded_at AT TIME ZONE 'UTC', 'YYYY-MM-DD') AS day,
                           -sum(amount) AS used
                    FROM {quoted(schema)}.ledger_entries
                    WHERE kind IN ('usage', 'refund')
                      AND recorded_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
                                         - make_interval(days => :days)
                    GROUP BY 1, 2
                ) AS per_day
                GROUP BY account_id
            ) AS recent
            WHERE account.account_id = recent.account_id
            """
        ).bindparams(days=USAGE_DAYS - 1)
    )


def downgrade() -> None:
    op.drop_column("accounts", "usage_by_day", schema=context.config.attributes.get("schema", "billing"))
