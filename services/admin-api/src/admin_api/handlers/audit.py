"""Recording a change: an append-only audit row plus an ``audit.recorded`` event, in the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from customer_agent_shared.events.audit import AUDIT_RECORDED, AuditRecorded
from customer_agent_shared.events.config import AGENT_CONFIG_SNAPSHOT, AgentConfigSnapshot
from customer_agent_shared.events.envelope import make_event
from customer_agent_shared.topics import AGENT_CONFIG, AUDIT
from prometheus_client import Counter

from admin_api.adapters.insight_repositories import AuditQuery
from admin_api.adapters.repositories import Row
from admin_api.adapters.unit_of_work import AdminUnitOfWork

SOURCE = "admin-api"

CHANGES = Counter(
    "customer_agent_admin_api_changes_total",
    "Configuration changes recorded in the audit log.",
    ["target_type", "action"],
)
SNAPSHOTS = Counter("customer_agent_admin_api_config_snapshots_total", "Agent configuration snapshots published.")


async def record_change(
    uow: AdminUnitOfWork,
    *,
    account_id: str,
    actor: str,
    action: str,
    target_type: str,
    target_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Append to the audit log and stage the audit event (both commit with the change)."""
    entry = AuditRecorded(
        account_id=account_id,
        actor=actor,
        action=action,
        target_type=target_type,
        target_id=target_id,
        before=before,
        after=after,
        at=datetime.now(UTC),
    )
    event = make_event(AUDIT_RECORDED, entry, source=SOURCE, account_id=account_id)
    await uow.audit.append(event.id, entry)
    await uow.publish(AUDIT, account_id, event)
    CHANGES.labels(target_type=target_type, action=action).inc()


async def publish_snapshot(uow: AdminUnitOfWork, config: AgentConfigSnapshot) -> None:
    """Stage the account's full configuration on the compacted agent.config.v1."""
    event = make_event(AGENT_CONFIG_SNAPSHOT, config, source=SOURCE, account_id=config.account_id)
    await uow.publish(AGENT_CONFIG, config.account_id, event)
    SNAPSHOTS.inc()


class AuditLogReader:
    """Reads an account's audit log."""

    def __init__(self, unit_of_work: Callable[[], AdminUnitOfWork]) -> None:
        self._unit_of_work = unit_of_work

    async def search(self, query: AuditQuery) -> list[Row]:
        """Entries matching the filters, newest first."""
        async with self._unit_of_work() as uow:
            return await uow.audit.search(query)
