"""Alembic environment of the upload store."""

from customer_agent_shared.persistence.alembic_env import run_service_migrations
from customer_agent_shared.uploads.postgres import SCHEMA, metadata

run_service_migrations(metadata, SCHEMA)
