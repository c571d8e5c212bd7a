"""Alembic environment of the routing service."""

from customer_agent_shared.persistence.alembic_env import run_service_migrations

from routing_service.adapters.orm import SCHEMA, metadata

run_service_migrations(metadata, SCHEMA)
