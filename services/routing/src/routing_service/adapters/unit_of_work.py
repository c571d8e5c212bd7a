"""Routing's unit of work over its schema."""

from __future__ import annotations

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork


class RoutingUnitOfWork(SqlUnitOfWork):
    """Transaction scope for routing's use cases."""
