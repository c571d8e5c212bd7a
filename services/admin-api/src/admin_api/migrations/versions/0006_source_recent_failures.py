"""Sources keep the recent page failures ingestion reports, so the console can say why a page failed.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.add_column("sources", sa.Column("recent_failures", JSONB, nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.drop_column("sources", "recent_failures", schema=schema)
