"""File sources name their file's key in the upload store, so a resync fetches it again and a delete
releases it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.add_column("sources", sa.Column("upload_sha256", sa.String(64), nullable=True), schema=schema)


def downgrade() -> None:
    schema = context.config.attributes.get("schema", "admin")
    op.drop_column("sources", "upload_sha256", schema=schema)
