"""Alembic environment of the admin-api service."""

from customer_agent_shared.persistence.alembic_env import run_service_migrations

from admin_api.adapters.orm import SCHEMA, metadata

run_service_migrations(metadata, SCHEMA)
