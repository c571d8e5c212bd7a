"""Billing's unit of work over its schema."""

from __future__ import annotations

from customer_agent_shared.persistence.unit_of_work import SqlUnitOfWork


class BillingUnitOfWork(SqlUnitOfWork):
    """Transaction scope for billing's use cases."""
