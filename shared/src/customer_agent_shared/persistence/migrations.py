"""Alembic helpers: each service keeps its migrations and version table in its own schema."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from customer_agent_shared.settings import async_database_url


def alembic_config(migrations_dir: Path, database_url: str, schema: str) -> Config:
    """Build an Alembic config for a service's migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("sqlalchemy.url", async_database_url(database_url).replace("%", "%%"))
    config.attributes["schema"] = schema
    return config


def upgrade_to_head(migrations_dir: Path, database_url: str, schema: str) -> None:
    """Apply every migration (blocking; call from a thread in async code)."""
    command.upgrade(alembic_config(migrations_dir, database_url, schema), "head")


def downgrade_to(migrations_dir: Path, database_url: str, schema: str, revision: str = "base") -> None:
    """Roll migrations back to ``revision``."""
    command.downgrade(alembic_config(migrations_dir, database_url, schema), revision)
