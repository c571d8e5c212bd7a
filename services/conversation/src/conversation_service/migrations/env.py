"""Alembic environment of the conversation service."""

from customer_agent_shared.persistence.alembic_env import run_service_migrations

from conversation_service.adapters.orm import SCHEMA, metadata

run_service_migrations(metadata, SCHEMA)
